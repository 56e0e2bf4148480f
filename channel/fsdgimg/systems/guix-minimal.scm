;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.
;;;
;;; fsdgimg is free software; you can redistribute it and/or modify it under
;;; the terms of the GNU General Public License as published by the Free
;;; Software Foundation; either version 3 of the License, or (at your option)
;;; any later version.

(define-module (fsdgimg systems guix-minimal)
  #:use-module (fsdgimg systems)
  #:use-module (gnu packages nss)
  #:use-module (gnu services)
  #:use-module (gnu services base)
  #:use-module (gnu system)
  #:export (guix-minimal-os))

;;; Commentary:
;;;
;;; The smallest Guix System container image: the base utilities and the
;;; build daemon, so that 'guix install' works inside the container.
;;; Build it with:
;;;
;;;   guix system image -L channel --image-type=docker \
;;;     channel/fsdgimg/systems/guix-minimal.scm
;;;
;;; Code:

(define guix-minimal-os
  (operating-system
    (inherit %container-base-os)
    (host-name "guix-minimal")
    ;; The certificates let 'guix pull' and substitutes use HTTPS.
    (packages (cons nss-certs
                    (operating-system-packages %container-base-os)))
    (services
     (cons (service guix-service-type)
           (operating-system-user-services %container-base-os)))))

;; The value of this file, for 'guix system image FILE'.
guix-minimal-os
