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
;;;   guix deploy -L channel guix-fsdg-registry/deploy.scm
;;;
;;; or, on the host itself, 'guix system reconfigure -L channel
;;; guix-fsdg-registry/host.scm' (without -L after 'guix pull' with the
;;; fsdgimg channel).  Replace the example.org names, the e-mail address,
;;; the disk labels and the SSH key first.  It runs:
;;;
;;;   - the CNCF Distribution registry on 127.0.0.1:5000, with the settings
;;;     of config.yml beside this file;
;;;   - nginx in front of it with TLS on registry.example.org: anyone may
;;;     pull, pushes need a user from /etc/nginx/registry.htpasswd (create it
;;;     with 'htpasswd -B');
;;;   - certbot: until Let's Encrypt answers, nginx serves self-signed
;;;     placeholders from /etc/certs/DOMAIN, which certbot's deploy hook
;;;     replaces with the real certificates (and reloads nginx);
;;;   - a static registry on static.example.org, the tree 'fsdgimg publish'
;;;     writes in /srv/fsdgimg/static;
;;;   - skopeo, whose short image names resolve on this registry only and
;;;     which accepts images from this registry only.
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

(define %htpasswd-file "/etc/nginx/registry.htpasswd")

(define (certificate-file domain file)
  ;; Where certbot-service-type keeps each domain's certificate: a
  ;; self-signed placeholder made at activation, so that nginx starts before
  ;; the first certificate is issued, then links to the real one.
  (string-append "/etc/certs/" domain "/" file))

(define %registry-configuration
  ;; config.yml beside this file is this record, serialized by
  ;; config.yml.scm: regenerate it after a change here (see README.md).
  (registry-configuration
    (address "127.0.0.1:5000")
    (delete? #t)))

(define %auth-port
  ;; The loopback port of the nginx server that checks credentials in front
  ;; of the registry.
  5001)

;; Anonymous pulls and authenticated pushes, for docker, podman and skopeo
;; alike.  Clients probe GET /v2/ and send credentials only in answer to the
;; challenge it gives; docker then refuses to pull anonymously from a Basic
;; challenge, and all of them push without credentials when there is none.
;; So the public server gives a Bearer challenge, and answers the token
;; request itself: anonymous clients get the token "anonymous", clients with
;; a user of the htpasswd file get their own (checked) Basic credentials as
;; token.  It turns the Bearer token back into Basic credentials for the
;; loopback server, which lets reads through and checks the credentials of
;; everything else against the htpasswd file.  Tokens are worth exactly what
;; Basic credentials are, and travel over TLS only.
(define %http-content
  (string-append
   "map $http_authorization $fsdgimg_basic_authorization {
    '~^Bearer (?<token>.+)$' 'Basic $token';
    default '';
  }
  map $http_authorization $fsdgimg_token {
    '~^Basic (?<credentials>.+)$' $credentials;
    default 'anonymous';
  }
  map $http_authorization $fsdgimg_token_realm {
    '' off;
    default 'fsdgimg registry';
  }
  map $upstream_http_www_authenticate $fsdgimg_challenge {
    '' '';
    default 'Bearer realm=\"https://$http_host/fsdgimg-token\",service=\"fsdgimg-registry\"';
  }
  # Docker clients require this header on every /v2/ answer, the 401s nginx
  # itself sends included; the registry's own answers already carry it.
  map $upstream_http_docker_distribution_api_version $docker_distribution_api_version {
    '' 'registry/2.0';
    default $upstream_http_docker_distribution_api_version;
  }"))

(define %registry-upstream
  (string-append "http://"
                 (registry-configuration-address %registry-configuration)))

(define %auth-directives
  (list "auth_basic \"fsdgimg registry\";"
        (string-append "auth_basic_user_file " %htpasswd-file ";")))

(define %registry-proxy
  (nginx-server-configuration
    (listen '("443 ssl" "[::]:443 ssl"))
    (server-name (list %registry-domain))
    (ssl-certificate (certificate-file %registry-domain "fullchain.pem"))
    (ssl-certificate-key (certificate-file %registry-domain "privkey.pem"))
    (raw-content (list
                  ;; Layers are large and uploaded in one request.
                  "client_max_body_size 0;"
                  "proxy_request_buffering off;"
                  "add_header Docker-Distribution-Api-Version $docker_distribution_api_version always;"))
    (locations
     (list (nginx-location-configuration
             (uri "/v2/")
             (body (list (string-append "proxy_pass http://127.0.0.1:"
                                        (number->string %auth-port) ";")
                         "proxy_set_header Authorization $fsdgimg_basic_authorization;"
                         ;; So that the registry's Location headers name this
                         ;; host and scheme.
                         "proxy_set_header Host $http_host;"
                         "proxy_set_header X-Forwarded-Proto $scheme;"
                         "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"
                         "proxy_read_timeout 900;"
                         "proxy_hide_header WWW-Authenticate;"
                         "add_header WWW-Authenticate $fsdgimg_challenge always;"
                         "add_header Docker-Distribution-Api-Version $docker_distribution_api_version always;")))
           ;; The token endpoint: checks credentials when there are any.
           (nginx-location-configuration
             (uri "= /fsdgimg-token")
             (body (list "auth_basic $fsdgimg_token_realm;"
                         (string-append "auth_basic_user_file "
                                        %htpasswd-file ";")
                         ;; After the access check (a 'return' here would
                         ;; come before it).
                         "try_files /nonexistent @fsdgimg-token;")))
           (nginx-named-location-configuration
             (name "fsdgimg-token")
             (body (list "default_type application/json;"
                         "return 200 '{\"token\": \"$fsdgimg_token\", \"access_token\": \"$fsdgimg_token\"}';")))))))

(define %registry-auth
  ;; The loopback server that checks credentials in front of the registry.
  (nginx-server-configuration
    (listen (list (string-append "127.0.0.1:"
                                 (number->string %auth-port))))
    (server-name '("_"))
    (raw-content (list "client_max_body_size 0;"
                       "proxy_request_buffering off;"))
    (locations
     (let ((proxy (list (string-append "proxy_pass " %registry-upstream ";")
                        "proxy_set_header Host $http_host;"
                        "proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;"
                        "proxy_read_timeout 900;")))
       (list
        ;; The probe needs a user; pulls are public; anything else needs a
        ;; user.
        (nginx-location-configuration
          (uri "= /v2/")
          (body (append %auth-directives proxy)))
        (nginx-location-configuration
          (uri "/v2/")
          (body (append (list "limit_except GET HEAD OPTIONS {")
                        (map (lambda (line)
                               (string-append "  " line)) %auth-directives)
                        (list "}") proxy))))))))

(define %host
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
                              (password-authentication? #f)
                              ;; Replace with the key 'guix deploy' uses.
                              (authorized-keys
                               `(("root" ,(plain-file "deploy.pub"
                                           "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExampleExample deploy@example.org\n"))))))
                   (service registry-service-type %registry-configuration)
                   (service nginx-service-type
                            (nginx-configuration
                              (extra-content %http-content)
                              (server-blocks (list %registry-proxy
                                                   %registry-auth))))
                   (service static-registry-service-type
                            (static-registry-configuration
                              (listen '("443 ssl" "[::]:443 ssl"))
                              (server-name (list %static-domain))
                              (ssl-certificate (certificate-file
                                                %static-domain
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
                               ;; Each starts with a self-signed placeholder
                               ;; (the default); certbot's own deploy hook
                               ;; links the real one and reloads nginx.
                               (list (certificate-configuration
                                       (domains (list %registry-domain)))
                                     (certificate-configuration
                                       (domains (list %static-domain))))))))
             %base-services))))

;; The value of this file, for 'guix system' and for deploy.scm.
%host
