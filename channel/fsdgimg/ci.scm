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
  #:use-module (guix derivations)
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
  #:use-module (ice-9 ftw)
  #:use-module (ice-9 match)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-26)
  #:export (channel-packages system-image-files package-set-image-files
                             system-image-derivation
                             package-set-image-derivation cuirass-jobs))

;;; Commentary:
;;;
;;; Cuirass jobs for the fsdgimg channel: one per package of the channel, one
;;; per operating system of channel/fsdgimg/systems (a 'guix system image
;;; --image-type=docker' image) and one per manifest of manifests/images (a
;;; 'guix pack -f docker' image).  The image catalog, manifests/catalog.toml,
;;; names the same files: a new image is a new file there, and Cuirass
;;; builds it without this module changing.
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

(define (scheme-files directory)
  "Return the Scheme files of DIRECTORY, sorted; none if it does not exist."
  (map (cut string-append directory "/" <>)
       (or (scandir directory
                    (cut string-suffix? ".scm" <>) string<?)
           '())))

(define (system-image-files)
  "Return the operating-system files of the system images."
  (scheme-files (string-append (channel-directory) "/fsdgimg/systems")))

(define (package-set-image-files)
  "Return the manifests of the package-set images."
  (scheme-files (string-append (checkout-directory) "/manifests/images")))

(define (channel-packages)
  "Return the packages that this channel defines."
  (fold-packages cons
                 '()
                 (all-modules (list (cons (channel-directory)
                                          "fsdgimg/packages")))))

(define (system-image-derivation store file system)
  "Return the derivation of the Docker image of the operating system in FILE,
as 'guix system image --image-type=docker FILE' computes it."
  (let* ((os (read-operating-system file))
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

(define %pack-docker-options
  ;; The options 'guix pack -f docker' passes when given none.
  (list #:image-tag #f
        #:entry-point-argument '()
        #:max-layers #f))

(define (package-set-image-derivation store file system)
  "Return the derivation of the Docker image of the manifest in FILE, as
'guix pack -f docker -m FILE' computes it."
  (let* ((manifest (load* file
                          (make-user-module '())))
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
                                               #:extra-options
                                               %pack-docker-options))
                    #:system system)))

(define (derivation->job name drv)
  ;; Resolved when Cuirass calls us: (gnu ci) loads all of (gnu tests).
  ((module-ref (resolve-interface '(gnu ci))
               'derivation->job)
   name drv))

(define (package-job store package system)
  (derivation->job (string-append (package-name package) "." system)
                   (package-derivation store package system
                                       #:graft? #f)))

(define (image-job store file system derivation)
  (derivation->job (string-append "image."
                                  (basename file ".scm") "." system)
                   (derivation store file system)))

(define (jobs-for-system store system)
  "Return the jobs of this channel for SYSTEM."
  (append (map (cut package-job store <> system)
               (channel-packages))
          (map (cut image-job store <> system system-image-derivation)
               (system-image-files))
          (map (cut image-job store <> system package-set-image-derivation)
               (package-set-image-files))))

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
          (append-map (cut jobs-for-system store <>)
                      (arguments->systems arguments))))))

;;; ci.scm ends here
