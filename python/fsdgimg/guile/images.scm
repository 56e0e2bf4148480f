;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.  It is free software under the GNU GPL,
;;; version 3 or any later version.

;;; Commentary:
;;;
;;; Run as `guix repl -L CHANNEL -- images.scm KIND NAME FILE ...' with
;;; triples of arguments: KIND is "system" (FILE evaluates to an
;;; operating-system) or "manifest" (FILE evaluates to a manifest).  Prints
;;; one JSON object on standard output:
;;;
;;;   {"guix": VERSION,
;;;    "images": [{"name": NAME, "kind": KIND, "file": FILE,
;;;                "host-name": ..., (systems only)
;;;                "packages": [{"name", "version", "licenses": [...],
;;;                              "home-page"}, ...]}, ...]}
;;;
;;; The channel's Scheme stays the one source of truth about what an image
;;; contains; fsdgimg asks this program instead of parsing Scheme itself.
;;; A file that fails to load yields {"name", "kind", "file", "error"} and
;;; the program goes on with the next one.
;;;
;;; Code:

(use-modules (gnu system)
             (guix packages)
             (guix profiles)
             (guix licenses)
             (guix ui)
             ((guix config) #:select (%guix-version))
             (json)
             (ice-9 match)
             (srfi srfi-1))

(define (license->strings license)
  (match license
    ((? license?) (list (license-name license)))
    ((lst ...) (append-map license->strings lst))
    (#f '())
    (other (list (object->string other)))))

(define (package->json package)
  `(("name" . ,(package-name package))
    ("version" . ,(package-version package))
    ("licenses" . ,(list->vector (license->strings (package-license package))))
    ("home-page" . ,(or (package-home-page package) ""))))

(define (os-packages os)
  ;; Entries are packages or (PACKAGE OUTPUT) lists.
  (filter-map (match-lambda
                ((? package? p) p)
                (((? package? p) _ ...) p)
                (_ #f))
              (operating-system-packages os)))

(define (manifest-packages manifest)
  (filter-map (lambda (entry)
                (let ((item (manifest-entry-item entry)))
                  (and (package? item) item)))
              (manifest-entries manifest)))

(define (sorted-packages packages)
  (sort (delete-duplicates packages eq?)
        (lambda (a b)
          (string<? (package-full-name a) (package-full-name b)))))

(define (load-value file modules)
  ;; As `guix system' and `guix pack -m' do: the value of the file's last
  ;; expression, read in a fresh user module.  Not `load*', which reports
  ;; errors and exits: one bad file must not hide the others.
  (save-module-excursion
   (lambda ()
     (set-current-module (make-user-module modules))
     (primitive-load file))))

(define (describe-image kind name file)
  (define base
    `(("name" . ,name) ("kind" . ,kind) ("file" . ,file)))
  (catch #t
    (lambda ()
      (match kind
        ("system"
         (let ((os (load-value file '((gnu system) (gnu services)))))
           (unless (operating-system? os)
             (error "file does not evaluate to an operating-system" file))
           (append base
                   `(("host-name" . ,(operating-system-host-name os))
                     ("packages" . ,(list->vector
                                     (map package->json
                                          (sorted-packages (os-packages os)))))))))
        ("manifest"
         (let ((manifest (load-value file '((guix profiles) (gnu)))))
           (unless (manifest? manifest)
             (error "file does not evaluate to a manifest" file))
           (append base
                   `(("packages" . ,(list->vector
                                     (map package->json
                                          (sorted-packages
                                           (manifest-packages manifest)))))))))
        (_ (error "unknown kind (expected system or manifest)" kind))))
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

(define (main args)
  (let ((images (map (match-lambda
                       ((kind name file) (describe-image kind name file)))
                     (triples args))))
    (scm->json `(("guix" . ,%guix-version)
                 ("images" . ,(list->vector images))))
    (newline)))

(main (cdr (command-line)))
