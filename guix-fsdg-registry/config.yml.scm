;;; Print the config.yml of the registry that host.scm runs: a plain file,
;;; usable without Guix, that is the very file the Guix host runs.  It is
;;; generated, never committed; tests/channel/test_host.py runs a registry
;;; on what this prints.
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
