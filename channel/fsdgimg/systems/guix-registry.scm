;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.
;;;
;;; fsdgimg is free software; you can redistribute it and/or modify it under
;;; the terms of the GNU General Public License as published by the Free
;;; Software Foundation; either version 3 of the License, or (at your option)
;;; any later version.

(define-module (fsdgimg systems guix-registry)
  #:use-module (fsdgimg services registry)
  #:use-module (fsdgimg systems)
  #:use-module (gnu services)
  #:use-module (gnu system)
  #:export (guix-registry-os))

;;; Commentary:
;;;
;;; A container image running the CNCF Distribution registry on port 5000,
;;; storing images in /var/lib/registry (mount a volume there).  Build it
;;; with:
;;;
;;;   guix system image -L channel --image-type=docker \
;;;     channel/fsdgimg/systems/guix-registry.scm
;;;
;;; Code:

(define guix-registry-os
  (operating-system
    (inherit %container-base-os)
    (host-name "guix-registry")
    (services
     (cons (service registry-service-type
                    ;; Inside a container, listen on every interface: the
                    ;; container runtime decides what reaches the port.
                    (registry-configuration (address "0.0.0.0:5000")
                                            ;; The container's output, for
                                            ;; 'docker logs' and the like.
                                            (log-file "/dev/stdout")))
           (operating-system-user-services %container-base-os)))))

;; The value of this file, for 'guix system image FILE'.
guix-registry-os
