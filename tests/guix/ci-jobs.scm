;;; Print the Cuirass jobs of the channel, one "NAME DERIVATION" a line, as
;;; Cuirass gets them for a specification whose build is
;;; '(custom (fsdgimg ci)): through the 'cuirass-jobs' of (gnu ci).
;;;
;;;   guix repl -L channel -- tests/guix/ci-jobs.scm SYSTEM...
(use-modules (guix store)
             (ice-9 match))

(define (repository name url)
  ;; A channel as Cuirass passes it; the commit is not used by custom jobs.
  `(repository (version 0)
               (url ,url)
               (branch "master")
               (commit ,(make-string 40 #\0))
               (name ,name)))

(match (command-line)
  ((_ systems ..1)
   (with-store store
     (for-each (lambda (job)
                 (format #t "~a ~a~%"
                         (assq-ref job #:job-name)
                         (assq-ref job #:derivation)))
               ((@ (gnu ci) cuirass-jobs)
                store
                `((subset . (custom (fsdgimg ci)))
                  (systems . ,systems)
                  (channels . (,(repository
                                 'guix
                                 "https://git.savannah.gnu.org/git/guix.git")
                               ,(repository
                                 'fsdgimg
                                 "https://example.org/fsdgimg.git")))))))))
