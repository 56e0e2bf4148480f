;;; Check a package's source hash against a checkout made by hand:
;;;
;;;   guix repl -L channel -- tests/guix/verify-source.scm \
;;;     '(@ (fsdgimg packages registry) distribution-registry)' DIRECTORY
;;;
;;; The first argument is an expression whose value is the package.
;;; DIRECTORY is a checkout of the package's release (without .git, or with:
;;; version-control directories are left out, as 'guix hash -x' does).  It
;;; is added to the store under the origin's file name; the check passes
;;; when it lands at the origin's fixed output path, i.e. when the hash in
;;; the package is the checkout's.  For when the machine cannot download.
(use-modules (guix)
             (guix serialization)
             (ice-9 match))

(define (vcs-free? file stat)
  (not (member (basename file) '(".git" ".hg" ".svn" ".bzr" "CVS"))))

(match (command-line)
  ((_ expression directory)
   (let* ((package (eval (call-with-input-string expression read)
                         (current-module)))
          (origin (package-source package)))
     (with-store store
       (let ((expected (derivation->output-path
                        (run-with-store store
                          (origin->derivation origin))))
             (added (add-to-store store
                                  (origin-actual-file-name origin)
                                  #t "sha256" directory
                                  #:select? vcs-free?)))
         (format #t "expected ~a~%got      ~a~%" expected added)
         (exit (string=? expected added)))))))
