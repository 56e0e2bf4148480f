;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.
;;;
;;; fsdgimg is free software; you can redistribute it and/or modify it under
;;; the terms of the GNU General Public License as published by the Free
;;; Software Foundation; either version 3 of the License, or (at your option)
;;; any later version.

;;; Commentary:
;;;
;;; A registry host for an FSDG distribution, to deploy with
;;;
;;;   guix system reconfigure -L channel guix-fsdg-registry/host.scm
;;;
;;; (or without -L after 'guix pull' with the fsdgimg channel).  Replace the
;;; example.org names, the e-mail address, the disk labels and the SSH key
;;; first.  It runs:
;;;
;;;   - the CNCF Distribution registry on 127.0.0.1:5000, with the settings
;;;     of config.yml beside this file;
;;;   - nginx in front of it with TLS (Let's Encrypt certificates renewed
;;;     by certbot) on registry.example.org: anyone may pull, pushes need a
;;;     user from /etc/nginx/registry.htpasswd (create it with
;;;     'htpasswd -B');
;;;   - a static registry on static.example.org, the tree 'fsdgimg publish'
;;;     writes in /srv/fsdgimg/static;
;;;   - skopeo, whose short image names resolve on this registry only.
;;;
;;; Code:

(use-modules (fsdgimg services containers)
             (fsdgimg services registry)
             (fsdgimg services static-registry)
             (gnu)
             (gnu packages virtualization)
             (gnu services certbot)
             (gnu services networking)
             (gnu services ssh)
             (gnu services web))

(define %registry-domain "registry.example.org")
(define %static-domain "static.example.org")

(define (certificate-file domain file)
  (string-append "/etc/letsencrypt/live/" domain "/" file))

(define %registry-configuration
  ;; config.yml beside this file is this record, serialized by
  ;; config.yml.scm: regenerate it after a change here (see README.md).
  (registry-configuration
    (address "127.0.0.1:5000")
    (delete? #t)))

(define %nginx-reload-hook
  ;; certbot runs it after renewing a certificate.
  (program-file "nginx-reload"
                #~(let ((pid (call-with-input-file "/var/run/nginx/pid" read)))
                    (kill pid SIGHUP))))

(define %registry-proxy
  (nginx-server-configuration
    (listen '("443 ssl" "[::]:443 ssl"))
    (server-name (list %registry-domain))
    (ssl-certificate (certificate-file %registry-domain "fullchain.pem"))
    (ssl-certificate-key (certificate-file %registry-domain "privkey.pem"))
    (locations
     (list (nginx-location-configuration
             (uri "/v2/")
             (body (list
                    ;; Layers are large and uploaded in one request.
                    "client_max_body_size 0;"
                    "proxy_request_buffering off;"
                    "proxy_read_timeout 900;"
                    "proxy_pass http://127.0.0.1:5000;"
                    ;; So that the registry's Location headers name this
                    ;; host and scheme.
                    "proxy_set_header Host $http_host;"
                    "proxy_set_header X-Forwarded-Proto $scheme;"
                    "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"
                    ;; Pulls are public; anything else needs a user.
                    "limit_except GET HEAD OPTIONS {"
                    "  auth_basic \"fsdgimg registry\";"
                    "  auth_basic_user_file /etc/nginx/registry.htpasswd;"
                    "}")))))))

(operating-system
  (host-name "fsdg-registry")
  (timezone "Etc/UTC")
  (locale "en_US.utf8")
  (bootloader (bootloader-configuration
                (bootloader grub-efi-bootloader)
                (targets '("/boot/efi"))))
  (file-systems (cons* (file-system
                         (device (file-system-label "fsdg-registry"))
                         (mount-point "/")
                         (type "ext4"))
                       (file-system
                         (device (file-system-label "EFI"))
                         (mount-point "/boot/efi")
                         (type "vfat"))
                       %base-file-systems))
  (users (cons (user-account
                 (name "admin")
                 (group "users")
                 (supplementary-groups '("wheel")))
               %base-user-accounts))
  (packages (cons skopeo %base-packages))
  (services
   (append (list (service dhcpcd-service-type)
                 (service openssh-service-type
                          (openssh-configuration
                            (permit-root-login 'prohibit-password)
                            (password-authentication? #f)))
                 (service registry-service-type %registry-configuration)
                 (service nginx-service-type
                          (nginx-configuration
                            (server-blocks (list %registry-proxy))))
                 (service static-registry-service-type
                          (static-registry-configuration
                            (listen '("443 ssl" "[::]:443 ssl"))
                            (server-name (list %static-domain))
                            (ssl-certificate (certificate-file %static-domain
                                                               "fullchain.pem"))
                            (ssl-certificate-key (certificate-file
                                                  %static-domain
                                                  "privkey.pem"))))
                 (service containers-registries-service-type
                          (containers-registries-configuration
                            (unqualified-search-registries
                             (list %registry-domain))))
                 (service certbot-service-type
                          (certbot-configuration
                            (email "registry-admin@example.org")
                            (certificates
                             (list (certificate-configuration
                                     (domains (list %registry-domain))
                                     (deploy-hook %nginx-reload-hook))
                                   (certificate-configuration
                                     (domains (list %static-domain))
                                     (deploy-hook %nginx-reload-hook)))))))
           %base-services)))
