;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.
;;;
;;; fsdgimg is free software; you can redistribute it and/or modify it under
;;; the terms of the GNU General Public License as published by the Free
;;; Software Foundation; either version 3 of the License, or (at your option)
;;; any later version.

(define-module (fsdgimg systems)
  #:use-module (gnu bootloader)
  #:use-module (gnu bootloader grub)
  #:use-module (gnu system)
  #:use-module (gnu system file-systems)
  #:export (%container-base-os))

;;; Commentary:
;;;
;;; What the operating systems meant for 'guix system image
;;; --image-type=docker' have in common.
;;;
;;; Code:

(define %container-base-os
  (operating-system
    (host-name "fsdgimg")
    (timezone "Etc/UTC")
    (locale "en_US.utf8")
    ;; A container has no boot loader and its runtime provides the file
    ;; systems: the docker image type ignores these two fields, which
    ;; 'operating-system' nonetheless requires.
    (bootloader (bootloader-configuration
                  (bootloader grub-bootloader)
                  (targets '("/dev/null"))))
    (file-systems (cons (file-system
                          (device "none")
                          (mount-point "/")
                          (type "tmpfs")) %base-file-systems))
    (packages %base-packages-utils)
    (services
     '())))

;;; systems.scm ends here
