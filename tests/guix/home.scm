;;; A Guix Home environment running the registry as the user, with the
;;; containers tools' policy.  Run as
;;;
;;;   guix repl -L channel -- tests/guix/home.scm
;;;
;;; it prints the derivation of that home environment ('guix home build'
;;; has no '-d' to do so).
(use-modules (fsdgimg services containers)
             (fsdgimg services registry)
             (gnu home)
             (gnu services)
             (guix derivations)
             (guix monads)
             (guix store))

(define %home
  (home-environment
    (services (list (service home-registry-service-type)
                    (service home-containers-registries-service-type)))))

(with-store store
  (parameterize ((%graft? #f))
    (display (derivation-file-name
              (run-with-store store
                (home-environment-derivation %home))))
    (newline)))
