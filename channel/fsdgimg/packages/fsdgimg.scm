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
  #:use-module (gnu packages python-build)
  #:use-module (guix build-system pyproject)
  #:use-module (guix gexp)
  #:use-module ((guix licenses)
                #:prefix license:)
  #:use-module (guix packages)
  #:use-module (guix utils)
  #:use-module (ice-9 match)
  #:use-module (ice-9 textual-ports)
  #:use-module (ice-9 regex)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-26)
  #:export (fsdgimg-python-requirements))

;;; Commentary:
;;;
;;; The fsdgimg tool itself, built from the 'python' directory of the
;;; repository that holds this channel.  Its version and its run-time
;;; dependencies are read from 'python/pyproject.toml', so that the Python
;;; side stays their one source of truth.
;;;
;;; Code:

(define %python-directory
  ;; This file is CHECKOUT/channel/fsdgimg/packages/fsdgimg.scm, also
  ;; after 'guix pull', whose module directory links to the checkout in the
  ;; store; the Python package is CHECKOUT/python.
  (let ((this (canonicalize-path (search-path %load-path
                                              "fsdgimg/packages/fsdgimg.scm"))))
    (canonicalize-path (string-append (dirname this) "/../../../python"))))

(define (pyproject-lines)
  (string-split (call-with-input-file (string-append %python-directory
                                                     "/pyproject.toml")
                  get-string-all) #\newline))

(define (source-file? file stat)
  "Return true if FILE belongs in the source of the fsdgimg package, that is,
unless it is a build or test product."
  (let ((name (basename file)))
    (not (or (member name
                     '("__pycache__" ".pytest_cache"))
             (string-suffix? ".pyc" name)
             (string-suffix? ".egg-info" name)
             (member file
                     (list (string-append %python-directory "/build")
                           (string-append %python-directory "/dist")))))))

(define (table-lines header)
  "Return the lines of the table of pyproject.toml that starts with HEADER,
such as \"[project]\"."
  (let* ((lines (pyproject-lines))
         (start (drop-while (negate (cut string=? header <>)) lines)))
    (if (null? start)
        (error "pyproject.toml has no such table" header)
        (take-while (lambda (line)
                      (not (string-prefix? "[" line)))
                    (cdr start)))))

(define (pyproject-version)
  (or (any (lambda (line)
             (and=> (string-match "^version *= *\"([^\"]+)\"" line)
                    (cut match:substring <> 1)))
           (table-lines "[project]"))
      (error "pyproject.toml: no static [project] version")))

(define (requirement-names lines)
  "Return the distribution names in LINES, the items of a TOML array of
requirement strings such as \"requests>=2.28\"."
  (append-map (lambda (line)
                (map (lambda (m)
                       (string-downcase (match:substring m 1)))
                     (list-matches "\"([A-Za-z0-9_.-]+)[^\"]*\"" line)))
              (map (lambda (line)
                     ;; Drop comments.
                     (match (string-index line #\#)
                       (#f line)
                       (index (string-take line index)))) lines)))

(define (toml-array-lines lines key)
  "Return the lines of the array assigned to KEY in LINES, a TOML table."
  (let ((start (drop-while (lambda (line)
                             (not (string-match (string-append "^" key
                                                               " *= *\\[")
                                                line))) lines)))
    (match start
      (() '())
      ((first . rest) (if (string-index first #\])
                          (list (string-drop first
                                             (string-index first #\[)))
                          (take-while (lambda (line)
                                        (not (string-prefix? "]" line))) rest))))))

(define* (fsdgimg-python-requirements #:optional extra)
  "Return the distribution names of the run-time dependencies listed in
pyproject.toml, such as \"requests\"; with EXTRA, a string, those of that
optional dependency group instead."
  (requirement-names (if extra
                         (toml-array-lines (table-lines
                                            "[project.optional-dependencies]")
                                           extra)
                         (toml-array-lines (table-lines "[project]")
                                           "dependencies"))))

(define (requirement->package name)
  ;; Guix names Python libraries "python-" followed by their PyPI name.
  (specification->package (string-append "python-" name)))

(define-public fsdgimg
  (package
    (name "fsdgimg")
    (version (pyproject-version))
    (source
     (local-file %python-directory
                 "fsdgimg-checkout"
                 #:recursive? #t
                 #:select? source-file?))
    (build-system pyproject-build-system)
    (arguments
     ;; The test suites live outside 'python/', at the top of the
     ;; repository; the 'sanity-check' phase still imports the package and
     ;; checks its entry point.
     (list
      #:tests? #f))
    (native-inputs (list python-setuptools))
    (propagated-inputs (map requirement->package
                            (fsdgimg-python-requirements)))
    ;; fsdgimg has no web site of its own yet: this is the list of the
    ;; distributions it is made for.
    (home-page "https://www.gnu.org/distros/free-distros.html")
    (synopsis
     "Build, verify and publish container images of FSDG distributions")
    (description
     "fsdgimg lets free software distributions such as Guix System,
Trisquel, PureOS and Parabola build their own official container images,
check that they are reproducible bit for bit, and publish them to an OCI
registry or as a static registry: plain files that any web server serves.")
    (license license:gpl3+)))
