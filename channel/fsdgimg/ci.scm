;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.
;;;
;;; fsdgimg is free software; you can redistribute it and/or modify it under
;;; the terms of the GNU General Public License as published by the Free
;;; Software Foundation; either version 3 of the License, or (at your option)
;;; any later version.

(define-module (fsdgimg ci)
  #:use-module (gnu compression)
  #:use-module ((gnu image)
                #:select (os->image))
  #:use-module ((gnu packages)
                #:select (fold-packages))
  #:use-module ((gnu system image)
                #:select (docker-image-type system-image))
  #:use-module ((gnu system)
                #:select (operating-system-with-provenance))
  #:use-module (guix derivations)
  #:use-module ((guix describe)
                #:select (manifest-entry-with-provenance))
  #:use-module (guix discovery)
  #:use-module (guix gexp)
  #:use-module (guix monads)
  #:use-module (guix packages)
  #:use-module (guix profiles)
  #:use-module (guix store)
  #:use-module (guix ui)
  #:use-module ((guix scripts pack)
                #:select ((docker-image . pack-docker-image)))
  #:use-module ((guix scripts system)
                #:select (read-operating-system))
  #:use-module ((guix utils)
                #:select (%current-system))
  #:use-module (ice-9 match)
  #:use-module (ice-9 regex)
  #:use-module (ice-9 textual-ports)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-11)
  #:use-module (srfi srfi-26)
  #:export (channel-packages guix-catalog-entries system-image-derivation
                             package-set-image-derivation cuirass-jobs))

;;; Commentary:
;;;
;;; Cuirass jobs for the fsdgimg channel: one per package of the channel, on
;;; each system of the specification, and one per Guix-built image of the
;;; image catalog, manifests/catalog.toml, on the system the catalog gives
;;; it.  An image job is the very derivation that 'fsdgimg build NAME'
;;; computes ('guix system image --image-type=docker' or 'guix pack -f
;;; docker', with the catalog's options and --save-provenance): what Cuirass
;;; builds, fsdgimg can substitute.
;;;
;;; Use it with a Cuirass specification such as:
;;;
;;;   (specification
;;;     (name "fsdgimg")
;;;     (build '(custom (fsdgimg ci)))
;;;     (channels (cons (channel
;;;                       (name 'fsdgimg)
;;;                       (url "https://example.org/fsdgimg.git"))
;;;                     %default-channels))
;;;     (systems '("x86_64-linux")))
;;;
;;; Code:

(define (channel-directory)
  "Return the directory of this channel's modules in its checkout (after
'guix pull' and in Cuirass too, the module directory links to it)."
  (dirname (dirname (canonicalize-path (search-path %load-path
                                                    "fsdgimg/ci.scm")))))

(define (checkout-directory)
  ;; The channel's modules are in the 'channel' directory of its checkout.
  (dirname (channel-directory)))

(define (toml-scalar text)
  "Return the value TEXT starts with, a TOML string, integer or boolean, or #f
for anything else (arrays, tables)."
  ;; The catalog's strings are basic strings with Scheme-compatible escapes.
  (match (false-if-exception (call-with-input-string text read))
    ((? string? str)
     str)
    ((? integer? n)
     n)
    ('true #t)
    ('false #f)
    (_ #f)))

(define (table-header line)
  "Return the name of the table LINE opens, such as \"images.hello\", or #f."
  (and=> (string-match "^\\[([^]]+)\\]" line)
         (cut match:substring <> 1)))

(define (key-value line)
  "Return the (KEY . VALUE) pair that LINE assigns, or #f."
  (and=> (string-match "^([A-Za-z0-9_-]+) *= *(.*)$" line)
         (lambda (m)
           (cons (match:substring m 1)
                 (toml-scalar (match:substring m 2))))))

(define (catalog-entries file)
  "Return the images of the catalog FILE, a TOML file of [images.NAME]
tables, as a list of (NAME . ALIST) pairs, where ALIST maps the keys of the
table that have scalar values to these values."
  (define lines
    (string-split (call-with-input-file file
                    get-string-all) #\newline))
  (define (image-name table)
    ;; [images.NAME] opens an image; any other table, [images.NAME.SUB]
    ;; included, closes it.
    (and=> (string-match "^images\\.([A-Za-z0-9_-]+)$" table)
           (cut match:substring <> 1)))
  (let loop
    ((lines lines)
     (current #f)
     (entries '()))
    (match lines
      (() (reverse (map (match-lambda
                          ((name . alist) (cons name
                                                (reverse alist)))) entries)))
      ((line . rest) (cond
                       ((table-header line)
                        =>
                        (lambda (table)
                          (let ((name (image-name table)))
                            (loop rest name
                                  (if name
                                      (cons (list name) entries) entries)))))
                       ((and current
                             (key-value line))
                        =>
                        (lambda (pair)
                          (match entries
                            (((name . alist) . others) (loop rest current
                                                             (cons (cons* name
                                                                    pair alist)
                                                                   others))))))
                       (else (loop rest current entries)))))))

(define (catalog-file)
  (string-append (checkout-directory) "/manifests/catalog.toml"))

(define (guix-catalog-entries)
  "Return the entries of the image catalog that Guix builds."
  (filter (match-lambda
            ((name . alist) (member (assoc-ref alist "builder")
                                    '("guix-system" "guix-pack"))))
          (if (file-exists? (catalog-file))
              (catalog-entries (catalog-file))
              '())))

(define (channel-packages)
  "Return the packages that this channel defines."
  (fold-packages cons
                 '()
                 (all-modules (list (cons (channel-directory)
                                          "fsdgimg/packages")))))

(define (system-image-derivation store file system)
  "Return the derivation of the Docker image of the operating system in FILE,
as 'guix system image --image-type=docker --save-provenance FILE' computes
it."
  (let* ((os (operating-system-with-provenance (read-operating-system file)
                                               file))
         (image (os->image os
                           #:type docker-image-type)))
    (run-with-store store
                    (mbegin %store-monad
                            (set-guile-for-build (default-guile))
                            (lower-object (system-image image) system))
                    #:system system)))

(define (manifest->friendly-name manifest)
  ;; The name 'guix pack' gives an image: the names of its first packages,
  ;; dropping the last ones while that is 40 characters or more.
  (let shorten
    ((names (map manifest-entry-name
                 (manifest-entries manifest))))
    (let ((name (string-join names "-")))
      (if (or (< (string-length name) 40)
              (null? (cdr names))) name
          (shorten (drop-right names 1))))))

(define* (package-set-image-derivation store
                                       file
                                       system
                                       #:key max-layers
                                       entry-point)
  "Return the derivation of the Docker image of the manifest in FILE, as
'guix pack -f docker --save-provenance -m FILE' computes it, with
'--max-layers=MAX-LAYERS' and '--entry-point=ENTRY-POINT' when they are
true."
  (let* ((manifest (map-manifest-entries manifest-entry-with-provenance
                                         (load* file
                                                (make-user-module '()))))
         (name (string-append (manifest->friendly-name manifest)
                              "-docker-pack"))
         (profile (profile (content manifest)
                           (hooks %default-profile-hooks)
                           (locales? #t))))
    (run-with-store store
                    (mbegin %store-monad
                            (set-guile-for-build (default-guile))
                            (pack-docker-image name
                                               profile
                                               #:compressor (lookup-compressor
                                                             "gzip")
                                               #:entry-point entry-point
                                               #:extra-options (list
                                                                #:image-tag #f
                                                                #:entry-point-argument '()
                                                                #:max-layers
                                                                max-layers)))
                    #:system system)))

(define (catalog-image-derivation store entry)
  "Return the derivation of ENTRY, an image of the catalog, and its system."
  (match entry
    ((name . alist) (let ((system (or (assoc-ref alist "system")
                                      (%current-system)))
                          (file (lambda (key)
                                  (string-append (checkout-directory) "/"
                                                 (assoc-ref alist key)))))
                      (values (match (assoc-ref alist "builder")
                                ("guix-system" (system-image-derivation store
                                                (file "file") system))
                                ("guix-pack" (package-set-image-derivation
                                              store
                                              (file "manifest")
                                              system
                                              #:max-layers (assoc-ref alist
                                                            "max-layers")
                                              #:entry-point (assoc-ref alist
                                                             "entry-point"))))
                              system)))))

(define (derivation->job name drv)
  ;; Resolved when Cuirass calls us: (gnu ci) loads all of (gnu tests).
  ((module-ref (resolve-interface '(gnu ci))
               'derivation->job)
   name drv))

(define (package-job store package system)
  (derivation->job (string-append (package-name package) "." system)
                   (package-derivation store package system
                                       #:graft? #f)))

(define (image-job store entry)
  (let-values (((drv system)
                (catalog-image-derivation store entry)))
              (derivation->job (string-append "image."
                                              (car entry) "." system) drv)))

(define (package-jobs store system)
  "Return the jobs of the packages of this channel for SYSTEM."
  (map (cut package-job store <> system)
       (channel-packages)))

(define (arguments->systems arguments)
  (match (assoc-ref arguments
                    'systems)
    (#f (list (%current-system)))
    ((systems ...)
     systems)
    ((? string? str)
     (call-with-input-string str read))))

(define %answered-arguments
  ;; The ARGUMENTS of the last call to 'cuirass-jobs'.
  #f)

(define (cuirass-jobs store arguments)
  "Return the Cuirass jobs of this channel for the systems of ARGUMENTS."
  ;; For a 'custom' specification, (gnu ci) calls this procedure once for
  ;; each system with the same ARGUMENTS: answer the first call with the jobs
  ;; of every system, and the next ones with none.
  (if (eq? arguments %answered-arguments)
      '()
      (begin
        (set! %answered-arguments arguments)
        (parameterize ((%graft? #f))
          (append (append-map (cut package-jobs store <>)
                              (arguments->systems arguments))
                  (map (cut image-job store <>)
                       (guix-catalog-entries)))))))

;;; ci.scm ends here
