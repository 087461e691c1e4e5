-- pyattach for nvim-dap (https://github.com/mfussenegger/nvim-dap): attach
-- the debugger to a Python process that is already running, by PID.
--
-- Install: copy this file to ~/.config/nvim/lua/pyattach.lua and call
--
--   require('pyattach').setup()                                 -- pyattach on PATH
--   require('pyattach').setup({ command = '/path/to/pyattach' }) -- or not
--
-- It defines two adapters and three configurations for Python buffers:
--
--   adapter "pyattach"         nvim-dap runs `pyattach dap` and speaks DAP on
--                              its stdin/stdout (one pyattach per session).
--   adapter "pyattach-server"  nvim-dap runs `pyattach dap --listen
--                              127.0.0.1:PORT` on a free port, connects to it,
--                              and stops it when the session ends (nvim-dap
--                              0.7 or newer; 0.6 leaves it running).
--
--   "Attach to a Python process (pyattach)"          pick among the Python processes
--   "Attach to a Python process by PID (pyattach)"   type the PID
--   "Attach to a Python process (pyattach server)"   pick, through "pyattach-server"
--
-- Start with :DapContinue (or require('dap').continue()) in a Python buffer.
--
-- End the session with :DapDisconnect or :DapTerminate: pyattach turns both
-- into a detach, so the process runs on.
--
-- Child processes: with "subProcess": true in a configuration, debugpy asks
-- the editor to debug each new child process (a startDebugging request).
-- nvim-dap handles it: it starts another `pyattach dap` for the child's
-- session, or connects again to the same server with "pyattach-server".
local M = {}

-- attachable returns the processes `pyattach ps --json` says pyattach can
-- attach to (docs/ps-json.md), by PID.
local function attachable(command)
  local out = vim.fn.system({ command, 'ps', '--json' })
  if vim.v.shell_error ~= 0 then
    vim.notify('pyattach ps --json failed: ' .. out, vim.log.levels.ERROR)
    return {}
  end
  local by_pid = {}
  for _, p in ipairs(vim.fn.json_decode(out).processes) do
    if p.attachable then
      by_pid[p.pid] = p
    end
  end
  return by_pid
end

-- label describes a process of `pyattach ps --json` on one line: PID,
-- Python version, its container (runtime:name, or the ID's first 12
-- characters) when it runs in one, and command line.
function M.label(p)
  local where = ''
  local c = p.container
  if type(c) == 'table' then
    local name = c.name
    if name == nil or name == '' then
      name = string.sub(c.id or '', 1, 12)
    end
    where = string.format('  [%s:%s]', c.runtime, name)
  end
  return string.format('%d  Python %s%s  %s', p.pid, p.version, where, p.commandLine)
end

-- pick_process shows nvim-dap's process picker, limited to the Python
-- processes pyattach can attach to, and returns the chosen PID (or
-- dap.ABORT). nvim-dap lists processes with `ps ah -U $USER`: to attach to
-- another user's process (as root), use the "by PID" configuration.
function M.pick_process()
  local pythons = attachable(M.command)
  return require('dap.utils').pick_process({
    filter = function(proc)
      return pythons[proc.pid] ~= nil
    end,
    label = function(proc)
      return M.label(pythons[proc.pid])
    end,
    prompt = 'Python process to attach to: ',
  })
end

-- ask_pid asks for a PID (`pyattach ps` lists them).
function M.ask_pid()
  local pid = tonumber(vim.fn.input('PID of the Python process: '))
  return pid or require('dap').ABORT
end

function M.setup(opts)
  opts = opts or {}
  M.command = opts.command or 'pyattach'
  local dap = require('dap')
  -- The attach response comes once the attach is done (pyattach's own
  -- timeout is 30 s); nvim-dap warns after initialize_timeout_sec without it.
  local options = { initialize_timeout_sec = 30 }
  dap.adapters.pyattach = {
    type = 'executable',
    command = M.command,
    args = { 'dap' },
    options = options,
  }
  -- To use a `pyattach dap --listen 127.0.0.1:5679` you started yourself,
  -- drop `executable` and set port = 5679.
  dap.adapters['pyattach-server'] = {
    type = 'server',
    host = '127.0.0.1',
    port = '${port}',
    executable = { command = M.command, args = { 'dap', '--listen', '127.0.0.1:${port}' } },
    options = options,
  }
  dap.configurations.python = dap.configurations.python or {}
  for _, config in ipairs({
    {
      type = 'pyattach',
      request = 'attach',
      name = 'Attach to a Python process (pyattach)',
      processId = M.pick_process,
      justMyCode = false,
    },
    {
      type = 'pyattach',
      request = 'attach',
      name = 'Attach to a Python process by PID (pyattach)',
      processId = M.ask_pid,
      justMyCode = false,
    },
    {
      type = 'pyattach-server',
      request = 'attach',
      name = 'Attach to a Python process (pyattach server)',
      processId = M.pick_process,
      justMyCode = false,
    },
  }) do
    table.insert(dap.configurations.python, config)
  end
end

return M
