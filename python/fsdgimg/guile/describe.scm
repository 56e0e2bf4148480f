;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.  It is free software under the GNU GPL,
;;; version 3 or any later version.

;;; Commentary:
;;;
;;; What images.scm, sbom.scm and sources.scm share, included by each (`include' is
;;; resolved next to the including file; they are scripts that `guix repl'
;;; runs, not modules on a load path): loading a catalog file the way
;;; `guix system' and `guix pack -m' do, the packages an image's profile
;;; holds, and the driver that takes KIND NAME FILE triples and prints
;;;
;;;   {"guix": VERSION,
;;;    "images": [{"name", "kind", "file", "host-name" (systems only),
;;;                "packages": PACKAGES->JSON's value}, ...]}
;;;
;;; A file that fails to load yields {"name", "kind", "file", "error"} and
;;; the next one is described.  The including program uses (gnu system),
;;; (gnu services), (guix packages), (guix profiles), (guix ui),
;;; ((guix config) #:select (%guix-version)), (json) and (ice-9 match).
;;;
;;; Code:

(define (load-value file modules)
  ;; The value of the file's last expression, read in a fresh user module.
  ;; Not `load*', which reports errors and exits: one bad file must not hide
  ;; the others.
  (save-module-excursion
   (lambda ()
     (set-current-module (make-user-module modules))
     (primitive-load file))))

(define (entries->packages entries)
  ;; Profile entries are packages or (PACKAGE OUTPUT) lists.
  (filter-map (match-lambda
                ((? package? p) p)
                (((? package? p) _ ...) p)
                (_ #f))
              entries))

(define (propagated package)
  (filter-map (match-lambda
                ((_ (? package? p) . _) p)
                (_ #f))
              (package-propagated-inputs package)))

(define (closure roots next)
  ;; Every package reachable from ROOTS through NEXT, each once.
  (let loop ((todo roots) (seen (make-hash-table)) (out '()))
    (match todo
      (() (reverse out))
      ((p . rest)
       (if (hashq-ref seen p)
           (loop rest seen out)
           (begin
             (hashq-set! seen p #t)
             (loop (append (next p) rest) seen (cons p out))))))))

(define (os-packages os)
  ;; What the system profile holds: the operating system's packages plus
  ;; those its services add; the declared packages when folding fails.
  (catch #t
    (lambda ()
      (entries->packages
       (service-value
        (fold-services (operating-system-services os)
                       #:target-type profile-service-type))))
    (lambda _
      (entries->packages (operating-system-packages os)))))

(define (manifest-packages manifest)
  (filter-map (lambda (entry)
                (let ((item (manifest-entry-item entry)))
                  (and (package? item) item)))
              (manifest-entries manifest)))

(define (image-contents kind file)
  ;; Two values: the packages of the image's profile, and the fields only
  ;; an operating system has.
  (match kind
    ("system"
     (let ((os (load-value file '((gnu system) (gnu services)))))
       (unless (operating-system? os)
         (error "file does not evaluate to an operating-system" file))
       (values (os-packages os)
               `(("host-name" . ,(operating-system-host-name os))))))
    ("manifest"
     (let ((manifest (load-value file '((guix profiles) (gnu)))))
       (unless (manifest? manifest)
         (error "file does not evaluate to a manifest" file))
       (values (manifest-packages manifest) '())))
    (_ (error "unknown kind (expected system or manifest)" kind))))

(define (describe-image kind name file packages->json)
  (define base
    `(("name" . ,name) ("kind" . ,kind) ("file" . ,file)))
  (catch #t
    (lambda ()
      (call-with-values (lambda () (image-contents kind file))
        (lambda (packages fields)
          (append base fields
                  `(("packages" . ,(packages->json packages)))))))
    (lambda (key . args)
      (append base
              `(("error" . ,(call-with-output-string
                              (lambda (port)
                                (print-exception port #f key args)))))))))

(define (triples lst)
  (match lst
    (() '())
    ((kind name file rest ...)
     (cons (list kind name file) (triples rest)))
    (_ (error "arguments must be KIND NAME FILE triples"))))

(define (describe-images args packages->json)
  ;; ARGS are the program's KIND NAME FILE triples.
  (scm->json `(("guix" . ,%guix-version)
               ("images" . ,(list->vector
                             (map (match-lambda
                                    ((kind name file)
                                     (describe-image kind name file
                                                     packages->json)))
                                  (triples args))))))
  (newline))
