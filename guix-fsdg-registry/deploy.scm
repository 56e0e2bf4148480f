;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.  It is free software under the GNU GPL,
;;; version 3 or any later version.

;;; Commentary:
;;;
;;; Deploy the registry host of host.scm, from another machine, with
;;;
;;;   guix deploy -L channel guix-fsdg-registry/deploy.scm
;;;
;;; Replace the host name, the SSH user and identity and the host key with
;;; the machine's; its root account must accept the key (host.scm's
;;; authorized-keys).
;;;
;;; Code:

(use-modules (gnu machine)
             (gnu machine ssh))

(define %host
  (load (string-append (dirname (current-filename)) "/host.scm")))

(list (machine
        (operating-system %host)
        (environment managed-host-environment-type)
        (configuration (machine-ssh-configuration
                         (host-name "registry.example.org")
                         (system "x86_64-linux")
                         (user "root")
                         (identity "~/.ssh/id_ed25519")
                         (host-key
                          "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleHostKeyExampleHostKeyExampleHostKey")))))
