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
  #:use-module ((gnu image)
                #:select (os->image))
  #:use-module ((gnu packages)
                #:select (fold-packages))
  #:use-module ((gnu system image)
                #:select (docker-image-type system-image))
  #:use-module ((gnu system)
                #:select (operating-system-with-provenance))
  #:use-module ((guix build toml)
                #:select (parse-toml-file))
  #:use-module (guix derivations)
  #:use-module ((guix gexp)
                #:select (lower-object))
  #:use-module (guix monads)
  #:use-module (guix discovery)
  #:use-module (guix packages)
  #:use-module ((guix channels)
                #:select (channel-name channel-commit))
  #:use-module ((guix ui)
                #:select (make-user-module))
  #:use-module ((guix store)
                #:select (%graft? %store-monad run-with-store))
  #:use-module ((guix scripts system)
                #:select (read-operating-system))
  #:use-module ((guix utils)
                #:select (%current-system %current-target-system))
  #:use-module (ice-9 match)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-26)
  #:autoload (guix scripts pack)
  (guix-pack)
  #:export (channel-packages guix-catalog-entries
                             catalog-entry-builds
                             catalog-entry-systems
                             architecture->system
                             system-jobs
                             cuirass-jobs))

;;; Commentary:
;;;
;;; Cuirass jobs for the fsdgimg channel, for one system at a time: one job
;;; per package of the channel, PACKAGE.SYSTEM, and one per Guix-built image
;;; of the image catalog, manifests/catalog.toml, that ships for that system,
;;; image.NAME.SYSTEM (image.NAME.TARGET.SYSTEM when the catalog has an
;;; architecture cross-compiled on SYSTEM, with its 'systems' table).  The
;;; systems of the Cuirass specification decide which systems are evaluated;
;;; the catalog's architectures decide which images each system has.  An image job is the very derivation that 'fsdgimg build
;;; NAME' computes ('guix system image --image-type=docker' or 'guix pack -f
;;; docker', with the arguments of python/fsdgimg/guix-pack.toml, the
;;; catalog's options and --system):
;;; what Cuirass builds, fsdgimg can substitute.  An image the catalog pins
;;; to channels ('fsdgimg pin NAME': manifests/channels/NAME.scm) has its
;;; jobs only in an evaluation at those very commits, so that Cuirass builds
;;; it with the Guix 'fsdgimg build' takes; another evaluation says so on
;;; the standard error and leaves it out.
;;;
;;; Use it with a Cuirass specification such as:
;;;
;;;   (specification
;;;     (name "fsdgimg")
;;;     (build '(custom (fsdgimg ci)))
;;;     (channels (cons (channel
;;;                       (name 'fsdgimg)
;;;                       (url "https://example.org/fsdgimg.git")
;;;                       (branch "main"))
;;;                     %default-channels))
;;;     (systems '("x86_64-linux" "aarch64-linux")))
;;;
;;; Code:

;; (gnu ci)'s public helpers, resolved on first use: (gnu ci) loads all of
;; (gnu tests), which only Cuirass's evaluation needs, and which warns about
;; its own imports when loaded.
(define (gnu-ci name)
  (module-ref (resolve-interface '(gnu ci)) name))

(define (arguments->systems arguments)
  ((gnu-ci 'arguments->systems)
   arguments))

(define (derivation->job name drv)
  ((gnu-ci 'derivation->job)
   name drv))

(define* (image->job store image
                     #:key name system)
  ((gnu-ci 'image->job)
   store
   image
   #:name name
   #:system system))

(define (channel-directory)
  "Return the directory of this channel's modules in its checkout (after
'guix pull' and in Cuirass too, the module directory links to it)."
  (dirname (dirname (canonicalize-path (search-path %load-path
                                                    "fsdgimg/ci.scm")))))

(define (checkout-directory)
  ;; The channel's modules are in the 'channel' directory of its checkout.
  (dirname (channel-directory)))

(define (catalog-file)
  (string-append (checkout-directory) "/manifests/catalog.toml"))

(define (guix-catalog-entries)
  "Return the entries of the image catalog that Guix builds, as (NAME . ALIST)
pairs, where ALIST maps the keys of the entry's table to their values."
  (filter (match-lambda
            ((name . alist) (member (assoc-ref alist "builder")
                                    '("guix-system" "guix-pack"))))
          (if (file-exists? (catalog-file))
              (or (assoc-ref (parse-toml-file (catalog-file)) "images")
                  '())
              '())))

(define (python-data-file name)
  ;; The tables fsdgimg itself reads, beside its modules: one place for what
  ;; both sides need (the Cuirass evaluation runs in Guix alone).
  (string-append (checkout-directory) "/python/fsdgimg/" name))

(define (read-python-data name)
  (let ((file (python-data-file name)))
    (if (file-exists? file)
        (parse-toml-file file)
        '())))

(define %architectures
  ;; OCI architecture names, as the catalog spells them, and their entries in
  ;; python/fsdgimg/architectures.toml (what each tool calls them), as read
  ;; by fsdgimg/platforms.py.
  (delay (or (assoc-ref (read-python-data "architectures.toml")
                        "architectures")
             '())))

(define (architecture-field architecture field)
  (match (assoc-ref (force %architectures) architecture)
    (#f #f)
    (alist (assoc-ref alist field))))

(define (architecture->system architecture)
  "Return the Guix system type that builds ARCHITECTURE, an OCI name such as
\"arm64\", natively, or #f."
  (architecture-field architecture "guix-system"))

(define (catalog-entry-builds entry)
  "Return the builds of ENTRY, a catalog entry, as (SYSTEM . TARGET) pairs: one
per architecture of its 'architectures' list (or its single 'architecture'),
on the system its 'systems' table gives, by default the architecture's own.
TARGET is #f for a native build, else the architecture's guix-target, the GNU
triplet to cross-compile for.  This is what catalog.py's Entry.guix_system
and Entry.guix_target say (its 'system' key may only name the architecture's
own system)."
  (match entry
    ((name . alist) (let ((architectures (match (assoc-ref alist
                                                           "architectures")
                                           ((? pair? lst)
                                            lst)
                                           (_ (list (assoc-ref alist
                                                               "architecture")))))
                          (systems (or (assoc-ref alist "systems")
                                       '())))
                      (filter-map (lambda (architecture)
                                    (let* ((own (architecture->system
                                                 architecture))
                                           (system (or (assoc-ref systems
                                                        architecture) own)))
                                      (and system
                                           (cons system
                                                 (and own
                                                      (not (string=? own
                                                                     system))
                                                      (architecture-field
                                                       architecture
                                                       "guix-target"))))))
                                  architectures)))))

(define (catalog-entry-systems entry)
  "Return the Guix system types ENTRY, a catalog entry, builds images on."
  (delete-duplicates (map car
                          (catalog-entry-builds entry))))

(define (channel-packages)
  "Return the packages that this channel defines."
  (fold-packages cons
                 '()
                 (all-modules (list (cons (channel-directory)
                                          "fsdgimg/packages")))))

(define (package-job store package system)
  (derivation->job (string-append (package-name package) "." system)
                   (package-derivation store package system
                                       #:graft? #f)))

(define (system-image-job store name file system target)
  "Return the job of the Docker image of the operating system in FILE for
SYSTEM, cross-compiled for TARGET when it is true, as 'guix system image
--image-type=docker --save-provenance' computes it."
  ;; As 'guix system image --system=SYSTEM', evaluate the whole image for
  ;; SYSTEM: what its builder imports, (guix config) included, is for SYSTEM.
  (parameterize ((%current-system system)
                 (%current-target-system target))
    (define image
      (os->image (operating-system-with-provenance (read-operating-system file)
                                                   file)
                 #:type docker-image-type))
    (if target
        (derivation->job (string-append name "." target "." system)
                         (run-with-store store
                                         (mbegin %store-monad
                                                 (set-guile-for-build (default-guile))
                                                 (lower-object (system-image
                                                                image) system
                                                               #:target target))
                                         #:system system
                                         #:target target))
        (image->job store
                    image
                    #:name name
                    #:system system))))

(define (pack-derivation arguments)
  "Return the derivation that 'guix pack -d ARGUMENTS' prints.  The command
line is the interface of 'guix pack' that stays stable across Guix versions."
  (match (string-tokenize (with-output-to-string (lambda ()
                                                   (apply guix-pack "-d"
                                                          arguments))))
    ((_ ...
        (? (cut string-suffix? ".drv" <>) file))
     (read-derivation-from-file file))))

(define (package-set-image-job store
                               name
                               alist
                               file
                               system
                               target)
  "Return the job of the Docker image of the manifest in FILE for SYSTEM,
cross-compiled for TARGET when it is true, as 'guix pack -f docker
--save-provenance' computes it with the options of ALIST, a catalog entry."
  (define pack
    ;; The arguments fsdgimg's Guix driver gives 'guix pack' too.
    (read-python-data "guix-pack.toml"))
  (derivation->job (if target
                       (string-append name "." target "." system)
                       (string-append name "." system))
                   (pack-derivation `(,@(assoc-ref pack "arguments") ,(string-append
                                                                       "--system="
                                                                       system)
                                      ,@(if target
                                            (list (string-append "--target="
                                                                 target))
                                            '()) "-m"
                                      ,file
                                      ,@(filter-map (lambda (key)
                                                      (match (assoc-ref alist
                                                                        key)
                                                        (#f #f)
                                                        (value (format #f
                                                                "--~a=~a" key
                                                                value))))
                                                    (assoc-ref pack "options"))))))

(define (image-jobs store entry system)
  "Return the jobs of ENTRY, an image of the catalog, built on SYSTEM: one per
architecture it ships that SYSTEM builds, natively or cross-compiled."
  (match entry
    ((name . alist) (let ((job-name (string-append "image." name))
                          (file (lambda (key)
                                  (string-append (checkout-directory) "/"
                                                 (assoc-ref alist key)))))
                      (filter-map (match-lambda
                                    (((? (cut string=? system <>)) . target) (match 
                                                                                    (assoc-ref
                                                                                     alist
                                                                                     "builder")
                                                                               
                                                                               
                                                                               ("guix-system"
                                                                                (system-image-job
                                                                                 store
                                                                                 job-name

                                                                                 
                                                                                 (file
                                                                                  "file")
                                                                                 system
                                                                                 target))

                                                                               
                                                                               ("guix-pack"
                                                                                (package-set-image-job
                                                                                 store
                                                                                 job-name
                                                                                 alist

                                                                                 
                                                                                 (file
                                                                                  "manifest")
                                                                                 system
                                                                                 target))))
                                    (_ #f))
                                  (catalog-entry-builds entry))))))

(define (entry-pins entry)
  "Return the channels ENTRY is pinned to by 'fsdgimg pin', as (NAME . COMMIT)
pairs, or #f when it takes the evaluating Guix (channels = \"host\")."
  (match (assoc-ref (cdr entry) "channels")
    ((or #f "host")
     #f)
    (file (map (lambda (channel
                         )
                 (cons (channel-name channel)
                       (channel-commit channel)))
               (load-channels-file (string-append (checkout-directory) "/"
                                                  file))))))

(define (load-channels-file file)
  ;; Read as 'guix time-machine -C' reads it: in a user module that sees
  ;; (guix channels).
  (save-module-excursion (lambda ()
                           (set-current-module (make-user-module
                                                %channel-modules))
                           (primitive-load file))))

(define %channel-modules
  '((guix channels)))

(define (evaluation-commits arguments)
  "Return the channels Cuirass evaluates with, from ARGUMENTS, as (NAME . COMMIT)
pairs."
  (filter-map (match-lambda
                (('repository fields ...)
                 (let ((field (lambda (key)
                                (match (assq key fields)
                                  ((_ value)
                                   value)
                                  (_ #f)))))
                   (cons (field 'name)
                         (field 'commit))))
                (_ #f))
              (or (assq-ref arguments
                            'channels)
                  '())))

(define (pinned-as-evaluated? entry commits)
  "Whether ENTRY's pins, if it has any, are the commits of the evaluation:
the image jobs are those of the Guix 'fsdgimg build' takes (through 'guix
time-machine -C' the pin), or there are none.  A mismatch is said on the
standard error, naming both commits."
  (match (entry-pins entry)
    (#f #t)
    (pins (every (match-lambda
                   ((name . commit) (let ((evaluated (assq-ref commits name)))
                                      (or (and evaluated commit
                                               (string=? evaluated commit))
                                          (begin
                                            (format (current-error-port)
                                             "fsdgimg ci: image.~a: pinned to ~a ~a, evaluated at ~a; no job (set the specification's ~a channel to the pin)~%"
                                             (car entry)
                                             name
                                             commit
                                             (or evaluated "no commit")
                                             name) #f))))) pins))))

(define* (system-jobs store system
                      #:key (commits #f))
  "Return the jobs of this channel for SYSTEM: its packages, and the images
of the catalog built on SYSTEM.  With COMMITS (the evaluation's channels), an
image pinned to other commits has no job."
  (parameterize ((%graft? #f))
    (append (map (cut package-job store <> system)
                 (channel-packages))
            (append-map (cut image-jobs store <> system)
                        (if commits
                            (filter (cut pinned-as-evaluated? <> commits)
                                    (guix-catalog-entries))
                            (guix-catalog-entries))))))

(define %calls
  ;; How many times 'cuirass-jobs' was called with each ARGUMENTS.
  (make-weak-key-hash-table))

(define (cuirass-jobs store arguments)
  "Return the Cuirass jobs of this channel for one of the systems of
ARGUMENTS, for (gnu ci), whose 'cuirass-jobs' calls this procedure once per
system of ARGUMENTS, in order, with the same ARGUMENTS."
  ;; Cuirass evaluates each system of a specification in its own inferior,
  ;; with (systems . (SYSTEM)): one call, one system.  Given several
  ;; systems, (gnu ci) calls us once for each without saying which: the Nth
  ;; call with the same ARGUMENTS is for the Nth system.
  (let* ((systems (arguments->systems arguments))
         (calls (hashq-ref %calls arguments 0)))
    (hashq-set! %calls arguments
                (1+ calls))
    (system-jobs store
                 (list-ref systems
                           (modulo calls
                                   (length systems)))
                 #:commits (evaluation-commits arguments))))

;;; ci.scm ends here
