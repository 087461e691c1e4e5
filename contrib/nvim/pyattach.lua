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
-- The picker lists the Python processes pyattach can attach to, each
-- master (gunicorn's, a multiprocessing pool's) with its workers indented
-- under it, and after each master an entry "PID and its N Python workers":
-- picking it attaches with "processTree": true, which debugs the master and
-- every worker, each in a child session (nvim-dap starts them on pyattach's
-- startDebugging requests). Ending the master's session detaches from
-- every process of the tree.
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

-- python_processes returns what `pyattach ps --json` lists (docs/ps-json.md).
local function python_processes(command)
  local out = vim.fn.system({ command, 'ps', '--json' })
  if vim.v.shell_error ~= 0 then
    vim.notify('pyattach ps --json failed: ' .. out, vim.log.levels.ERROR)
    return {}
  end
  return vim.fn.json_decode(out).processes
end

-- where names the container a process of `pyattach ps --json` runs in,
-- as "  [runtime:name]" (or the ID's first 12 characters), or "".
function M.where(p)
  local c = p.container
  if type(c) ~= 'table' then
    return ''
  end
  local name = c.name
  if name == nil or name == '' then
    name = string.sub(c.id or '', 1, 12)
  end
  return string.format('  [%s:%s]', c.runtime, name)
end

-- items turns the processes into the picker's entries, in tree order: each
-- process without a listed Python parent, by PID, followed by its
-- descendants indented; after each attachable master, the entry for its
-- whole tree. Each entry is { pid = PID, tree = BOOL, label = TEXT }.
function M.items(processes)
  local listed, children, roots = {}, {}, {}
  for _, p in ipairs(processes) do
    listed[p.pid] = true
  end
  for _, p in ipairs(processes) do
    local parent = p.pythonParent or 0
    if listed[parent] and parent ~= p.pid then
      children[parent] = children[parent] or {}
      table.insert(children[parent], p)
    else
      table.insert(roots, p)
    end
  end
  local items = {}
  local function add(p, depth)
    if p.attachable then
      local role = ''
      if p.role == 'master' then
        role = string.format('  master of %d', p.pythonDescendants or 0)
      elseif p.role ~= nil and p.role ~= '' then
        role = string.format('  %s of %d', p.role, p.pythonParent)
      end
      local indent = depth > 0 and (string.rep('  ', depth - 1) .. '└ ') or ''
      table.insert(items, {
        pid = p.pid,
        tree = false,
        label = string.format('%s%d  Python %s%s%s  %s', indent, p.pid, p.version, role, M.where(p), p.commandLine),
      })
      local n = p.pythonDescendants or 0
      if n > 0 then
        table.insert(items, {
          pid = p.pid,
          tree = true,
          label = string.format('%s%d and its %d Python worker%s', indent, p.pid, n, n == 1 and '' or 's'),
        })
      end
    end
    for _, child in ipairs(children[p.pid] or {}) do
      add(child, depth + 1)
    end
  end
  for _, p in ipairs(roots) do
    add(p, 0)
  end
  return items
end

-- tree_pid is the process last picked with its workers: enrich_config
-- adds "processTree" to the configuration that attaches to it.
local tree_pid = nil

-- pick_process lets the user pick among the Python processes pyattach can
-- attach to and returns the chosen PID (or dap.ABORT). nvim-dap evaluates
-- it in a coroutine, which waits here for vim.ui.select's answer. To attach
-- to another user's process (as root), use the "by PID" configuration.
function M.pick_process()
  local dap = require('dap')
  local items = M.items(python_processes(M.command))
  if #items == 0 then
    vim.notify('pyattach: no Python process to attach to', vim.log.levels.WARN)
    return dap.ABORT
  end
  local co = coroutine.running()
  local choice, answered, waiting = nil, false, false
  vim.ui.select(items, {
    prompt = 'Python process to attach to: ',
    format_item = function(item)
      return item.label
    end,
  }, function(item)
    choice, answered = item, true
    if waiting then
      coroutine.resume(co)
    end
  end)
  if co and not answered then
    waiting = true
    coroutine.yield()
  end
  if choice == nil then
    return dap.ABORT
  end
  tree_pid = choice.tree and choice.pid or nil
  return choice.pid
end

-- enrich_config sets "processTree" when the process was picked with its
-- workers (a configuration's processId can only give the PID).
local function enrich_config(config, on_config)
  if tree_pid ~= nil and tonumber(config.processId) == tree_pid then
    config = vim.deepcopy(config)
    config.processTree = true
    tree_pid = nil
  end
  on_config(config)
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
    enrich_config = enrich_config,
  }
  -- To use a `pyattach dap --listen 127.0.0.1:5679` you started yourself,
  -- drop `executable` and set port = 5679.
  dap.adapters['pyattach-server'] = {
    type = 'server',
    host = '127.0.0.1',
    port = '${port}',
    executable = { command = M.command, args = { 'dap', '--listen', '127.0.0.1:${port}' } },
    options = options,
    enrich_config = enrich_config,
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
