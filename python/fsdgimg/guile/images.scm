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
             (gnu services)
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

(define (sorted-packages packages)
  (sort (delete-duplicates packages eq?)
        (lambda (a b)
          (string<? (package-full-name a) (package-full-name b)))))

(include "describe.scm")

(describe-images (cdr (command-line))
                 (lambda (packages)
                   (list->vector (map package->json (sorted-packages packages)))))
