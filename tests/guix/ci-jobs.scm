;;; Print the Cuirass jobs of the channel, one "SYSTEM NAME DERIVATION" a
;;; line, as Cuirass gets them for a specification whose build is
;;; '(custom (fsdgimg ci)): through the 'cuirass-jobs' of (gnu ci), called
;;; once per system with (systems . (SYSTEM)), as Cuirass's evaluator does
;;; (one inferior per system).  With --together, one call with all the
;;; SYSTEMS instead, as 'guix' tools calling (gnu ci) directly do; SYSTEM is
;;; then "-" in the output.
;;;
;;;   guix repl -L channel -- tests/guix/ci-jobs.scm [--together] SYSTEM...
(use-modules (guix store)
             (ice-9 match))

(define (repository name url)
  ;; A channel as Cuirass passes it; the commit is not used by custom jobs.
  `(repository (version 0)
               (url ,url)
               (branch "main")
               (commit ,(make-string 40 #\0))
               (name ,name)))

(define (evaluate store systems)
  ((@ (gnu ci) cuirass-jobs)
   store
   `((subset . (custom (fsdgimg ci)))
     (systems . ,systems)
     (channels . (,(repository 'guix "https://git.savannah.gnu.org/git/guix.git")
                  ,(repository 'fsdgimg "https://example.org/fsdgimg.git"))))))

(define (show label jobs)
  (for-each (lambda (job)
              (format #t "~a ~a ~a~%" label
                      (assq-ref job #:job-name)
                      (assq-ref job #:derivation)))
            jobs))

(with-store store
  (match (command-line)
    ((_ "--together" systems ..1)
     (show "-" (evaluate store systems)))
    ((_ systems ..1)
     (for-each (lambda (system)
                 (show system (evaluate store (list system))))
               systems))))
