-- Headless Neovim attaches `infrac lsp` with its built-in client and waits for
-- the diagnostics of the file it opens. Neovim 0.7 (Debian 12) API.
-- In: INFRAC_BIN, the file to open (argument), INFRAC_EXPECT "CODE:LINE"
-- (1-based line). Exit 0 when that diagnostic arrives, 1 otherwise.
local file = vim.fn.argv(0)
local expect_code, expect_line = string.match(os.getenv("INFRAC_EXPECT"), "(%w+):(%d+)")
vim.cmd("edit " .. vim.fn.fnameescape(file))
local buffer = vim.api.nvim_get_current_buf()
local client = vim.lsp.start_client({
  name = "infrac",
  cmd = { os.getenv("INFRAC_BIN"), "lsp" },
  root_dir = vim.fn.fnamemodify(file, ":p:h:h"),
})
if not client or not vim.lsp.buf_attach_client(buffer, client) then
  io.stderr:write("the server did not start\n")
  vim.cmd("cquit 1")
end
local found = nil
vim.wait(20000, function()
  for _, d in ipairs(vim.diagnostic.get(buffer)) do
    local code = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code)
    if code == expect_code then
      found = d
      return true
    end
  end
  return false
end, 50)
if found == nil then
  io.stderr:write("no " .. expect_code .. " diagnostic; got " .. vim.inspect(vim.diagnostic.get(buffer)) .. "\n")
  vim.cmd("cquit 1")
end
if found.lnum + 1 ~= tonumber(expect_line) then
  io.stderr:write("diagnostic on line " .. (found.lnum + 1) .. ", expected " .. expect_line .. "\n")
  vim.cmd("cquit 1")
end
io.stdout:write("neovim: " .. expect_code .. " on line " .. expect_line .. ": " .. found.message .. "\n")
vim.lsp.stop_client(client)
vim.wait(2000, function() return vim.lsp.client_is_stopped(client) end, 50)
vim.cmd("qall!")
