// The smallest VS Code client for `infrac lsp`: it starts the server for KDL
// files and leaves every feature to the protocol.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

exports.activate = function activate() {
  const command = vscode.workspace.getConfiguration("infrac").get("path", "infrac");
  client = new LanguageClient(
    "infrac",
    "infrac",
    { command, args: ["lsp"] },
    { documentSelector: [{ scheme: "file", language: "kdl" }] },
  );
  return client.start();
};

exports.deactivate = function deactivate() {
  return client ? client.stop() : undefined;
};
