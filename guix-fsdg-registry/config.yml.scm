;;; Print the config.yml of the registry that host.scm runs, so that the
;;; committed guix-fsdg-registry/config.yml, usable without Guix, is the
;;; very file the Guix host runs (tests/channel checks that it is).
;;;
;;;   guix repl -L channel -- guix-fsdg-registry/config.yml.scm
(use-modules (fsdgimg services registry)
             (gnu services)
             (gnu system)
             (srfi srfi-1))

(define host
  (load (string-append (dirname (current-filename)) "/host.scm")))

(define registry
  (find (lambda (service)
          (eq? (service-kind service) registry-service-type))
        (operating-system-user-services host)))

(display (registry-configuration->yaml (service-value registry)))
