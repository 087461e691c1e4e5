;;; pyattach-dape.el --- dape configurations for pyattach  -*- lexical-binding: t; -*-

;;; Commentary:

;; Attach dape (https://github.com/svaante/dape) to a Python process that
;; is already running, by PID, through pyattach.
;;
;; Install: put this file on your `load-path' and add
;;
;;   (with-eval-after-load 'dape (require 'pyattach-dape))
;;
;; to your init file.  Set `pyattach-dape-command' if pyattach is not on
;; PATH.  Two configurations are added to `dape-configs':
;;
;;   pyattach         dape runs `pyattach dap' and speaks DAP on its stdio.
;;   pyattach-server  dape runs `pyattach dap --listen 127.0.0.1:PORT' on a
;;                    free port, connects to it, and stops it at the end.
;;
;; Use: M-x dape RET pyattach RET, then pick the process.  The PID can also
;; be given on dape's prompt: "pyattach :processId 1234".
;;
;; End the session with `dape-disconnect-quit', `dape-quit' or `dape-kill':
;; pyattach turns each into a detach, so the process runs on.
;;
;; Child processes (":subProcess t"): dape answers debugpy's startDebugging
;; requests itself, with another `pyattach dap' (pyattach) or another
;; connection to the same server (pyattach-server).

;;; Code:

(require 'seq)

(defvar dape-configs)

(defgroup pyattach-dape nil
  "Attach dape to running Python processes with pyattach."
  :group 'tools)

(defcustom pyattach-dape-command "pyattach"
  "The pyattach executable."
  :type 'string)

(defun pyattach-dape--processes ()
  "Return the Python processes pyattach can attach to.
They are those `pyattach ps --json' marks attachable, each an alist with
the fields of docs/ps-json.md in pyattach's repository."
  (with-temp-buffer
    (unless (zerop (call-process pyattach-dape-command nil t nil "ps" "--json"))
      (user-error "Running pyattach ps --json failed: %s" (buffer-string)))
    (seq-filter (lambda (p) (eq (alist-get 'attachable p) t))
                (alist-get 'processes
                           (json-parse-string (buffer-string)
                                              :object-type 'alist
                                              :array-type 'list
                                              :false-object nil)))))

(defun pyattach-dape-read-pid ()
  "Ask for the Python process to attach to, and return its PID.
The choices are the processes pyattach can attach to; a PID may be typed."
  (let* ((choices (mapcar (lambda (p)
                            (cons (format "%d  Python %s  %s"
                                          (alist-get 'pid p)
                                          (alist-get 'version p)
                                          (alist-get 'commandLine p))
                                  (alist-get 'pid p)))
                          (pyattach-dape--processes)))
         (answer (completing-read "Python process to attach to: " choices)))
    (or (cdr (assoc answer choices))
        (and (string-match-p "\\`[0-9]+\\'" answer) (string-to-number answer))
        (user-error "Not a process: %s" answer))))

(defconst pyattach-dape--attach
  '(:type "pyattach"
    :request "attach"
    :processId pyattach-dape-read-pid
    :justMyCode nil)
  "The attach arguments both configurations send.
dape sends keyword keys only, calls function values, and sends nil as false.")

(with-eval-after-load 'dape
  (add-to-list 'dape-configs
               `(pyattach
                 modes (python-mode python-ts-mode)
                 ensure dape-ensure-command
                 command pyattach-dape-command
                 command-args ("dap")
                 ,@pyattach-dape--attach))
  (add-to-list 'dape-configs
               `(pyattach-server
                 modes (python-mode python-ts-mode)
                 ensure dape-ensure-command
                 command pyattach-dape-command
                 command-args ("dap" "--listen" "127.0.0.1::autoport")
                 host "127.0.0.1"
                 port :autoport
                 ,@pyattach-dape--attach)))

(provide 'pyattach-dape)
;;; pyattach-dape.el ends here
