;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.
;;;
;;; fsdgimg is free software; you can redistribute it and/or modify it under
;;; the terms of the GNU General Public License as published by the Free
;;; Software Foundation; either version 3 of the License, or (at your option)
;;; any later version.

(define-module (fsdgimg services web-config)
  #:use-module (guix gexp)
  #:export (fsdgimg-web-config-file))

;;; Commentary:
;;;
;;; The configuration files the services take from fsdgimg: what a web
;;; server serves for a static tree, what the containers tools require of
;;; images, is written once, by 'fsdgimg web-config', run at build time.
;;; The services hold the arguments, never a copy of the text.
;;;
;;; Code:

(define (fsdgimg-web-config-file name fsdgimg arguments)
  "Return a file-like object called NAME holding what the fsdgimg command of
FSDGIMG, a package, prints for ARGUMENTS, a list of strings starting with
\"web-config\"."
  (define fsdgimg-command
    (file-append fsdgimg "/bin/fsdgimg"))
  (define build
    #~(call-with-output-file #$output
        (lambda (port)
          (let ((pid (spawn #+fsdgimg-command
                            (cons "fsdgimg"
                                  '#$arguments)
                            #:output port)))
            (unless (zero? (status:exit-val (cdr (waitpid pid))))
              (error "fsdgimg web-config failed"))))))
  (computed-file name build))

;;; web-config.scm ends here
