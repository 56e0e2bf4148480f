;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.
;;;
;;; fsdgimg is free software; you can redistribute it and/or modify it under
;;; the terms of the GNU General Public License as published by the Free
;;; Software Foundation; either version 3 of the License, or (at your option)
;;; any later version.

(define-module (fsdgimg services validation)
  #:use-module (guix diagnostics)
  #:use-module ((guix utils)
                #:select (source-properties->location))
  #:use-module (srfi srfi-35)
  #:export (define-located-sanitizer located-error))

;;; Commentary:
;;;
;;; Field sanitizers whose errors point at the offending value in the user's
;;; file, as those 'define-configuration' makes for field types do.
;;;
;;; Code:

(define (located-error location error)
  "Raise ERROR, a condition such as a formatted message, at LOCATION when it
is true."
  (raise-exception (if location
                       (make-exception error
                                       (condition (&error-location (location
                                                                    location))))
                       error)))

(define-syntax-rule (define-located-sanitizer name field check)
  ;; NAME is a macro: where the record applies it to a value, it sees the
  ;; value's source location and calls (CHECK 'FIELD VALUE LOCATION), which
  ;; returns the value or raises an error.  Used as a value, NAME is a
  ;; procedure without location.
  (define-syntax name
    (lambda (s)
      (syntax-case s ()
                   ((_ value)
                    (with-syntax ((loc (datum->syntax (syntax value)
                                                      (syntax-source (syntax
                                                                      value)))))
                                 (syntax (check 'field value
                                                (and=> 'loc
                                                 source-properties->location)))))
                   (id (identifier? (syntax id))
                       (syntax (lambda (value)
                                 (check 'field value #f))))))))

;;; validation.scm ends here
