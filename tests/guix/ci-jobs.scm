;;; Print the Cuirass jobs of the channel, one "NAME DERIVATION" a line:
;;;
;;;   guix repl -L channel -- tests/guix/ci-jobs.scm SYSTEM...
(use-modules (fsdgimg ci)
             (guix store)
             (ice-9 match))

(match (command-line)
  ((_ systems ..1)
   (with-store store
     (for-each (lambda (job)
                 (format #t "~a ~a~%"
                         (assq-ref job #:job-name)
                         (assq-ref job #:derivation)))
               (cuirass-jobs store `((systems ,@systems)))))))
