;;; Evaluate guix-fsdg-registry/deploy.scm as 'guix deploy' would, short of
;;; deploying: print each machine's SSH host name, its operating system's
;;; host name and the derivation of that system.
;;;
;;;   guix repl -L channel -- tests/guix/deploy.scm
(use-modules (gnu machine)
             (gnu machine ssh)
             (gnu system)
             (guix derivations)
             (guix monads)
             (guix store))

(define machines
  (load (string-append (dirname (dirname (dirname (current-filename))))
                       "/guix-fsdg-registry/deploy.scm")))

(with-store store
  (parameterize ((%graft? #f))
    (for-each (lambda (machine)
                (let ((os (machine-operating-system machine)))
                  (format #t "~a ~a ~a~%"
                          (machine-ssh-configuration-host-name
                           (machine-configuration machine))
                          (operating-system-host-name os)
                          (derivation-file-name
                           (run-with-store store
                             (operating-system-derivation os))))))
              machines)))
