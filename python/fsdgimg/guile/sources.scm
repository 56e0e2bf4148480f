;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.  It is free software under the GNU GPL,
;;; version 3 or any later version.

;;; Commentary:
;;;
;;; The corresponding source of Guix images, as `guix build -S' has it: for
;;; every package of the image (with what it propagates), the derivation of
;;; its source origin and that derivation's output.  Run as `guix repl -L
;;; CHANNEL -- sources.scm KIND NAME FILE ...' (KIND NAME FILE triples, as
;;; sbom.scm); prints
;;;
;;;   {"guix": VERSION,
;;;    "images": [{"name", "kind", "file",
;;;                "packages": [{"name", "version", "derivation",
;;;                              "output"}, ...]}, ...]}
;;;
;;; Computing a source derivation needs the daemon (to add its builder),
;;; never a download: `guix build DERIVATION' later fetches it, from
;;; substitutes or the origin's fallbacks.
;;;
;;; Code:

(use-modules (gnu system)
             (gnu services)
             (guix packages)
             (guix profiles)
             (guix derivations)
             (guix store)
             (guix ui)
             ((guix config) #:select (%guix-version))
             (json)
             (ice-9 match)
             (srfi srfi-1))

(include "describe.scm")

(define (sources-of store)
  (lambda (packages)
    (list->vector
     (filter-map (lambda (package)
                   (let ((source (package-source package)))
                     (and source
                          (let ((drv (package-source-derivation store source)))
                            `(("name" . ,(package-name package))
                              ("version" . ,(package-version package))
                              ("derivation" . ,(derivation-file-name drv))
                              ("output" . ,(derivation->output-path drv)))))))
                 (sort (closure packages propagated)
                       (lambda (a b)
                         (string<? (package-full-name a) (package-full-name b))))))))

(with-store store
  (describe-images (cdr (command-line)) (sources-of store)))
