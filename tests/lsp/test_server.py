"""`infrac lsp` driven end to end by a real LSP client (pytest-lsp, with the
capabilities VS Code announces). `tests/lsp.rs` runs this file with the
freshly built binary in INFRAC_BIN; it works on a copy of examples/vps."""

import asyncio
import os
import pathlib
import shutil

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

ROOT = pathlib.Path(__file__).resolve().parents[2]
INFRAC = os.environ.get("INFRAC_BIN", str(ROOT / "target/debug/infrac"))


@pytest.fixture
def project(tmp_path):
    shutil.copytree(ROOT / "examples/vps", tmp_path / "vps")
    return tmp_path / "vps"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[INFRAC, "lsp"]))
async def client(lsp_client: LanguageClient, project):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=project.as_uri(),
        )
    )
    yield
    await lsp_client.shutdown_session()


def open_file(client, path, text=None):
    text = path.read_text() if text is None else text
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=path.as_uri(), language_id="kdl", version=1, text=text
            )
        )
    )
    return text


def change(client, path, version, text):
    """Sends the whole text as one ranged edit, as editors with incremental sync do."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(
                uri=path.as_uri(), version=version
            ),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=0, character=0),
                        end=types.Position(line=100000, character=0),
                    ),
                    text=text,
                )
            ],
        )
    )


async def diagnostics(client, path, predicate, timeout=15):
    """The diagnostics of `path` once they satisfy `predicate`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = client.diagnostics.get(path.as_uri())
        found = None if found is None else list(found)
        if found is not None and predicate(found):
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"diagnostics of {path.name}: {found}")
        await asyncio.sleep(0.02)


async def hover_at(client, path, position):
    return await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
            position=position,
        )
    )


def edited(text, old, new):
    """The example with its first `old` replaced; fails when the example no longer has it."""
    assert old in text, f"the example no longer contains {old!r}"
    return text.replace(old, new, 1)


def position_of(text, needle, offset=0):
    index = text.index(needle) + offset
    line = text.count("\n", 0, index)
    column = index - (text.rfind("\n", 0, index) + 1)
    return types.Position(line=line, character=column)


def apply(text, edits):
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)

    def offset(p):
        return offsets[p.line] + p.character

    for edit in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


async def test_every_file_of_the_project_is_clean(client, project):
    open_file(client, project / "infrac.kdl")
    for name in ["infrac.kdl", "stacks/shop.kdl", "stacks/analytics.kdl"]:
        assert await diagnostics(client, project / name, lambda d: d == []) == []


async def test_an_error_appears_as_typed_and_clears_when_fixed(client, project):
    shop = project / "stacks/shop.kdl"
    text = open_file(client, shop)
    await diagnostics(client, shop, lambda d: d == [])
    broken = edited(text, 'networks "internal"\n        volume "shop-pgdata"', 'networks "internall"\n        volume "shop-pgdata"')
    change(client, shop, 2, broken)
    found = await diagnostics(client, shop, lambda d: len(d) > 0)
    assert len(found) == 1, found
    error = found[0]
    assert error.severity == types.DiagnosticSeverity.Error
    assert error.source == "infrac"
    start = position_of(broken, '"internall"')
    assert error.range.start == start
    assert error.range.end == types.Position(line=start.line, character=start.character + len('"internall"'))
    assert error.code_description.href.endswith(f"/docs/diagnostics/{error.code}.md")
    change(client, shop, 3, text)
    assert await diagnostics(client, shop, lambda d: d == []) == []


async def test_a_duplicate_points_at_the_first_declaration(client, project):
    shop = project / "stacks/shop.kdl"
    text = open_file(client, shop)
    twice = edited(text, 'service "worker"', 'service "web"')
    change(client, shop, 2, twice)
    found = await diagnostics(client, shop, lambda d: any(x.code == "E009" for x in d))
    duplicate = next(x for x in found if x.code == "E009")
    assert duplicate.range.start == position_of(twice, '"web" image="ghcr.io/acme/shop:3.2.1" {\n        networks "internal"')
    related = duplicate.related_information[0]
    assert related.location.uri == shop.as_uri()
    assert related.location.range.start == position_of(twice, '"web"')
    assert "first declared" in related.message


async def test_hover_documents_a_property_from_the_schema(client, project):
    shop = project / "stacks/shop.kdl"
    text = open_file(client, shop)
    hover = await hover_at(client, shop, position_of(text, "image=", 2))
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert "property `image` of `service`" in hover.contents.value
    assert "image reference" in hover.contents.value


async def test_hover_on_a_reference_says_what_it_names(client, project):
    shop = project / "stacks/shop.kdl"
    text = open_file(client, shop)
    hover = await hover_at(client, shop, position_of(text, 'host="vps1"', 7))
    assert "**host** `vps1`" in hover.contents.value
    assert "infrac.kdl" in hover.contents.value


async def completion_labels(client, path, text, position):
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
            position=position,
        )
    )
    items = result.items if hasattr(result, "items") else result
    return [item.label for item in items]


async def test_completion_in_a_half_typed_service_block(client, project):
    shop = project / "stacks/shop.kdl"
    text = open_file(client, shop)
    anchor = '        user "1000:1000"\n    }\n    service "worker"'
    typed = edited(text, anchor, '        user "1000:1000"\n        rest\n    }\n    service "worker"')
    change(client, shop, 2, typed)
    labels = await completion_labels(client, shop, typed, position_of(typed, "        rest\n", len("        rest")))
    assert "restart" in labels and "healthcheck" not in labels
    # A value half typed after `restart`: the schema's enum.
    typed = typed.replace("        rest\n", '        restart "un\n', 1)
    change(client, shop, 3, typed)
    labels = await completion_labels(client, shop, typed, position_of(typed, 'restart "un', len('restart "un')))
    assert "unless-stopped" in labels


async def test_completion_after_depends_on_offers_the_stacks_services(client, project):
    shop = project / "stacks/shop.kdl"
    text = open_file(client, shop)
    typed = edited(text, '        depends-on "db" "cache"\n        resources cpus=1', '        depends-on "\n        resources cpus=1')
    change(client, shop, 2, typed)
    labels = await completion_labels(client, shop, typed, position_of(typed, 'depends-on "\n', len('depends-on "')))
    assert sorted(labels) == ["cache", "db", "web"]


async def test_definition_crosses_includes(client, project):
    shop = project / "stacks/shop.kdl"
    text = open_file(client, shop)
    result = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=shop.as_uri()),
            position=position_of(text, 'host="vps1"', 7),
        )
    )
    location = result[0] if isinstance(result, list) else result
    main = project / "infrac.kdl"
    assert location.uri == main.as_uri()
    assert location.range.start == position_of(main.read_text(), 'host "vps1"', 5)


async def test_rename_a_service_renames_every_use(client, project):
    shop = project / "stacks/shop.kdl"
    text = open_file(client, shop)
    position = position_of(text, 'service "db"', 8)
    prepared = await client.text_document_prepare_rename_async(
        types.PrepareRenameParams(
            text_document=types.TextDocumentIdentifier(uri=shop.as_uri()), position=position
        )
    )
    assert prepared.placeholder == "db"
    edit = await client.text_document_rename_async(
        types.RenameParams(
            text_document=types.TextDocumentIdentifier(uri=shop.as_uri()),
            position=position,
            new_name="postgres",
        )
    )
    edits = edit.changes[shop.as_uri()]
    assert len(edits) == 3  # the declaration and two depends-on
    renamed = apply(text, edits)
    assert 'service "postgres"' in renamed
    assert renamed.count('depends-on "postgres" "cache"') == 2
    # A literal that happens to read "db" is not a reference.
    assert 'env "DATABASE_HOST" "db"' in renamed
    references = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=types.TextDocumentIdentifier(uri=shop.as_uri()),
            position=position,
            context=types.ReferenceContext(include_declaration=False),
        )
    )
    assert len(references) == 2


async def test_quick_fix_from_a_diagnostic(client, project):
    shop = project / "stacks/shop.kdl"
    text = open_file(client, shop)
    typo = edited(text, 'env "STRIPE_API_KEY" secret="shop-stripe-key"', 'env "STRIPE_API_KEY" secret="shop-stripe-kee"')
    change(client, shop, 2, typo)
    found = await diagnostics(client, shop, lambda d: len(d) == 1)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=shop.as_uri()),
            range=found[0].range,
            context=types.CodeActionContext(diagnostics=found),
        )
    )
    assert len(actions) == 1
    action = actions[0]
    assert action.kind == types.CodeActionKind.QuickFix and action.is_preferred
    fixed = apply(typo, action.edit.changes[shop.as_uri()])
    assert fixed == text
    change(client, shop, 3, fixed)
    assert await diagnostics(client, shop, lambda d: d == []) == []


async def test_outline_and_formatting(client, project):
    shop = project / "stacks/shop.kdl"
    text = open_file(client, shop)
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=shop.as_uri()))
    )
    stack = next(s for s in symbols if s.name == "shop" and s.detail == "stack")
    assert [c.name for c in stack.children] == ["web", "worker", "db", "cache"]
    messy = edited(text, '    service "db" image="postgres:16.4" {', 'service   "db"  image = "postgres:16.4"{')
    change(client, shop, 2, messy)
    await diagnostics(client, shop, lambda d: d == [])
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=shop.as_uri()),
            options=types.FormattingOptions(tab_size=4, insert_spaces=True),
        )
    )
    assert apply(messy, edits) == text
