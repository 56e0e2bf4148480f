;;; Display the value of a Scheme expression that uses the channel's service
;;; modules, for the tests that run real servers on what the services
;;; generate:
;;;
;;;   guix repl -L channel -- tests/guix/eval.scm EXPRESSION
;;;
;;; A string value is displayed as is, anything else with 'write'.
(use-modules (fsdgimg services containers)
             (fsdgimg services registry)
             (fsdgimg services static-registry)
             (gnu services configuration)
             (ice-9 match))

(match (command-line)
  ((_ expression)
   (let ((value (eval (call-with-input-string expression read)
                      (current-module))))
     (if (string? value)
         (display value)
         (write value))))
  (_
   (format (current-error-port) "usage: eval.scm EXPRESSION~%")
   (exit 2)))
