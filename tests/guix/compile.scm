;;; Byte-compile Scheme files with warnings, and fail if any is printed:
;;;
;;;   guix repl -L channel -- tests/guix/compile.scm FILE...
;;;
;;; Prints the warnings and exits with status 1 when there are any.
(use-modules (system base compile)
             (ice-9 match)
             (srfi srfi-1))

(define %warnings
  ;; Guile's auto-compilation warnings, and unbound variables.
  '(unbound-variable macro-use-before-definition arity-mismatch format
    duplicate-case-datum bad-case-datum shadowed-toplevel
    use-before-definition non-idempotent-definition))

(define (stale-cache-note? line)
  ;; Guile's note that an auto-compiled copy of a module is older than its
  ;; source: about a cache, not about the code.
  (or (string-prefix? ";;; note: source file " line)
      (string-prefix? ";;;       newer than compiled " line)))

(define (without-cache-notes text)
  (string-join (remove stale-cache-note? (string-split text #\newline))
               "\n"))

(define (compile-warnings file)
  "Compile FILE and return the text of the warnings it raised."
  (let ((output (string-append (or (getenv "TMPDIR") "/tmp")
                               "/fsdgimg-compile-" (number->string (getpid))
                               ".go")))
    (dynamic-wind
      (const #t)
      (lambda ()
        (string-trim-both
         (without-cache-notes
          (call-with-output-string
            (lambda (port)
              (parameterize ((current-warning-port port))
                (compile-file file
                              #:output-file output
                              #:opts (list #:warnings %warnings))))))))
      (lambda ()
        (when (file-exists? output)
          (delete-file output))))))

(match (command-line)
  ((_ files ...)
   (let ((failed (filter (lambda (file)
                           (let ((warnings (compile-warnings file)))
                             (unless (string-null? warnings)
                               (display warnings (current-error-port)))
                             (not (string-null? warnings))))
                         files)))
     (format #t "compiled ~a files, ~a with warnings~%"
             (length files) (length failed))
     (exit (if (null? failed) 0 1)))))
