;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.
;;;
;;; fsdgimg is free software; you can redistribute it and/or modify it under
;;; the terms of the GNU General Public License as published by the Free
;;; Software Foundation; either version 3 of the License, or (at your option)
;;; any later version.

(define-module (fsdgimg packages fsdgimg)
  #:use-module (gnu packages)
  #:use-module (gnu packages check)
  #:use-module (gnu packages python-build)
  #:use-module (gnu packages python-xyz)
  #:use-module ((guix build toml)
                #:select (parse-toml-file))
  #:use-module (guix build-system pyproject)
  #:use-module ((guix describe)
                #:select (current-channels))
  #:use-module (guix diagnostics)
  #:use-module (guix gexp)
  #:use-module (guix git-download)
  #:use-module ((guix channels)
                #:select (channel-name channel-commit))
  #:use-module (guix i18n)
  #:use-module ((guix licenses)
                #:prefix license:)
  #:use-module (guix packages)
  #:use-module (guix utils)
  #:use-module (ice-9 match)
  #:use-module (ice-9 textual-ports)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-11)
  #:use-module (srfi srfi-26)
  #:export (fsdgimg-python-requirements fsdgimg-checkout-commit
                                        fsdgimg-test-files))

;;; Commentary:
;;;
;;; The fsdgimg tool itself, built from the 'python' directory of the
;;; repository that holds this channel.  Its version and its run-time
;;; dependencies are read from 'python/pyproject.toml', so that the Python
;;; side stays their one source of truth; the version is followed by the
;;; commit of the channel or of the checkout, so that each commit is a new
;;; version.
;;;
;;; Code:

(define %checkout
  ;; This file is CHECKOUT/channel/fsdgimg/packages/fsdgimg.scm, also after
  ;; 'guix pull', whose module directory links to the checkout in the store.
  (let ((this (search-path %load-path "fsdgimg/packages/fsdgimg.scm")))
    (dirname (dirname (dirname (dirname (canonicalize-path this)))))))

(define %pyproject
  (string-append %checkout "/python/pyproject.toml"))

(define (pyproject)
  "Return python/pyproject.toml as an alist, or raise an error that says it
is missing: this channel is a checkout of the fsdgimg repository."
  (unless (file-exists? %pyproject)
    (raise-exception (formatted-message (G_
                                         "~a: no such file; the fsdgimg package is built from the python/ directory of an fsdgimg checkout")
                                        %pyproject)))
  (parse-toml-file %pyproject))

(define (pyproject-ref . keys)
  (fold (lambda (key alist)
          (and (pair? alist)
               (assoc-ref alist key)))
        (pyproject) keys))

(define (requirement-name requirement)
  "Return the distribution name of REQUIREMENT, such as \"requests\" for
\"requests>=2.28\"."
  (string-downcase (string-take requirement
                                (or (string-index requirement
                                                  (char-set-complement (char-set-union
                                                                        char-set:letter+digit
                                                                        (char-set
                                                                         #\_
                                                                         #\.
                                                                         #\-))))
                                    (string-length requirement)))))

(define* (fsdgimg-python-requirements #:optional extra)
  "Return the distribution names of the run-time dependencies listed in
pyproject.toml, such as \"requests\"; with EXTRA, a string, those of that
optional dependency group instead."
  (map requirement-name
       (or (if extra
               (pyproject-ref "project" "optional-dependencies" extra)
               (pyproject-ref "project" "dependencies"))
           '())))

(define (git-directory)
  "Return the Git directory of the checkout and its common directory (they
differ in a worktree), or #f."
  (let ((dot-git (string-append %checkout "/.git")))
    (cond
      ((and (file-exists? dot-git)
            (eq? 'directory
                 (stat:type (stat dot-git))))
       (values dot-git dot-git))
      ((file-exists? dot-git)
       ;; A worktree: ".git" says "gitdir: DIRECTORY", which has a
       ;; 'commondir' file naming the main Git directory.
       (let* ((line (string-trim-both (call-with-input-file dot-git
                                        get-string-all)))
              (dir (string-trim (string-drop line
                                             (string-length "gitdir:"))))
              (dir (if (absolute-file-name? dir) dir
                       (string-append %checkout "/" dir)))
              (common (string-append dir "/commondir")))
         (values dir
                 (if (file-exists? common)
                     (let ((c (string-trim-both (call-with-input-file common
                                                  get-string-all))))
                       (if (absolute-file-name? c) c
                           (string-append dir "/" c))) dir))))
      (else (values #f #f)))))

(define (read-line-of file)
  (and (file-exists? file)
       (string-trim-both (call-with-input-file file
                           get-string-all))))

(define (packed-ref directory ref)
  "Return the commit of REF in DIRECTORY's packed-refs file, or #f."
  (let ((file (string-append directory "/packed-refs")))
    (and (file-exists? file)
         (any (lambda (line)
                (match (string-split line #\space)
                  ((commit (? (cut string=? ref <>)))
                   commit)
                  (_ #f)))
              (string-split (call-with-input-file file
                              get-string-all) #\newline)))))

(define (checkout-git-commit)
  "Return the commit of the checkout's HEAD, read from its Git directory
(without running Git), or #f."
  (let-values (((dir common)
                (git-directory)))
              (and dir
                   (match (read-line-of (string-append dir "/HEAD"))
                     (#f #f)
                     ((? (cut string-prefix? "ref: " <>) head)
                      (let ((ref (string-drop head 5)))
                        (or (read-line-of (string-append dir "/" ref))
                            (read-line-of (string-append common "/" ref))
                            (packed-ref common ref))))
                     (commit commit)))))

(define (fsdgimg-checkout-commit)
  "Return the commit this channel was built from: the fsdgimg channel's
commit after 'guix pull' (or in Cuirass), else the commit of the checkout's
HEAD, else #f."
  (or (any (lambda (channel
                     )
             (and (eq? (channel-name channel)
                       'fsdgimg)
                  (channel-commit channel)))
           (false-if-exception (current-channels)))
      (checkout-git-commit)))

(define (fsdgimg-version)
  (let ((base (or (pyproject-ref "project" "version")
                  (raise-exception (formatted-message (G_
                                                       "~a: no static [project] version")
                                                      %pyproject)))))
    (match (fsdgimg-checkout-commit)
      (#f base)
      (commit (git-version base "0" commit)))))

(define %test-files
  ;; The Python tests that need no server and no external tool, run in the
  ;; package's 'check' phase: property-based tests of the readers.
  '("tests/core/test_properties.py"))

(define (fsdgimg-test-files)
  "Return the test files the package's 'check' phase runs, relative to the
checkout."
  %test-files)

(define (source-file? file stat)
  "Return true if FILE belongs in the source of the fsdgimg package: the
python/ directory and what the tests of the 'check' phase need, without build
or test products."
  (let ((name (basename file))
        (relative (string-drop file
                               (min (string-length file)
                                    (1+ (string-length %checkout))))))
    (and (not (or (member name
                          '("__pycache__" ".pytest_cache"))
                  (string-suffix? ".pyc" name)
                  (string-suffix? ".egg-info" name)
                  (member relative
                          '("python/build" "python/dist"))))
         (or (string=? file %checkout)
             (any (lambda (prefix)
                    (or (string=? relative prefix)
                        (string-prefix? (string-append prefix "/") relative)
                        ;; The directories leading to a selected file.
                        (string-prefix? (string-append relative "/") prefix)))
                  (cons* "python"
                         "pytest.ini"
                         "tests/conftest.py"
                         "tests/fixtures"
                         "tests/core/__init__.py"
                         ;; The test modules the selected ones import.
                         "tests/core/test_bad_input.py"
                         %test-files))))))

(define (requirement->package name)
  ;; Guix names Python libraries "python-" followed by their PyPI name; those
  ;; upstream Guix lacks are in (fsdgimg packages python-xyz).
  (let* ((spec (string-append "python-" name))
         (ours (module-variable (resolve-interface '(fsdgimg packages
                                                             python-xyz))
                                (string->symbol spec))))
    (if ours
        (variable-ref ours)
        (specification->package spec))))

(define-public fsdgimg
  (package
    (name "fsdgimg")
    (version (fsdgimg-version))
    ;; A computed file rather than the local file itself, so that the source
    ;; is a derivation, as 'guix build -S' expects.
    (source
     (computed-file (string-append "fsdgimg-" version "-checkout")
                    #~(begin
                        (use-modules (guix build utils))
                        (copy-recursively #$(local-file %checkout
                                                        "fsdgimg-checkout"
                                                        #:recursive? #t
                                                        #:select? source-file?)
                                          #$output
                                          #:log (%make-void-port "w")))
                    #:options '(#:local-build? #t
                                #:modules ((guix build utils)))))
    (build-system pyproject-build-system)
    (arguments
     (list
      #:test-flags
      #~(list "-p" "no:cacheprovider"
              #$@(map (cut string-append "../" <>) %test-files))
      #:phases
      #~(modify-phases %standard-phases
          (add-after 'unpack 'enter-python-directory
            (lambda _
              (chdir "python"))))))
    (native-inputs (cons* python-setuptools
                          (map requirement->package
                               (fsdgimg-python-requirements "test"))))
    (propagated-inputs (map requirement->package
                            (fsdgimg-python-requirements)))
    ;; fsdgimg has no web site of its own yet.
    (home-page #f)
    (synopsis
     "Build, verify and publish container images of FSDG distributions")
    (description
     "fsdgimg lets free software distributions such as Guix System,
Trisquel, PureOS and Parabola build their own official container images,
check that they are reproducible bit for bit, and publish them to an OCI
registry or as a static registry: plain files that any web server serves.")
    (license license:gpl3+)))
