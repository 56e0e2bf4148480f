;;; Run as `guix repl -- derivation.scm BUSYBOX-DIR SCRIPT NAME NONDET': add a
;;; static busybox and SCRIPT to the store and print the file name of a
;;; derivation that runs `busybox sh SCRIPT' with NONDET in its environment.
;;; It needs nothing downloaded, so that a guix-daemon without network or
;;; substitutes can build it (and rebuild it with `guix build --check').
(use-modules (guix) (guix derivations) (guix store) (ice-9 match))

(match (cdr (command-line))
  ((busybox script name nondet)
   (with-store store
     ;; A directory, so that the builder's file name ends in "/busybox":
     ;; busybox picks its applet from argv[0].
     (let* ((bbdir (add-to-store store "busybox-static" #t "sha256" busybox))
            (bb (string-append bbdir "/busybox"))
            (sh (add-to-store store "build-image.sh" #f "sha256" script))
            (drv (derivation store name bb (list "sh" sh)
                             #:sources (list bbdir sh)
                             #:env-vars `(("NONDET" . ,nondet)))))
       (display (derivation-file-name drv))
       (newline)))))
