;;; Print what nginx and certbot do on the registry host of
;;; guix-fsdg-registry/host.scm, as JSON:
;;;
;;;   guix repl -L channel -- tests/guix/host-nginx.scm
;;;
;;;   {"http": the http-level content of nginx.conf (extra-content),
;;;    "server": the server blocks of the nginx service, as nginx-service-type
;;;              writes them (the public one and the loopback one in front of
;;;              the registry; certbot and the static registry add theirs),
;;;    "certificates": [{"domains", "self-signed": placeholder at activation?,
;;;                      "placeholder": the openssl arguments that make it,
;;;                      "deploy": the file operations of certbot's deploy
;;;                                hook, then ["shepherd", "nginx", "reload"]}]}
(use-modules (gnu services)
             (gnu services certbot)
             (gnu services web)
             (gnu system)
             (guix gexp)
             (json)
             (ice-9 match)
             (srfi srfi-1))

(define emit-nginx-server-config
  ;; Not exported: what nginx-service-type writes for each server.
  (@@ (gnu services web) emit-nginx-server-config))

;; Not exported by (gnu services certbot).
(define certbot-configuration-certificates
  (@@ (gnu services certbot) certbot-configuration-certificates))
(define certificate-configuration-domains
  (@@ (gnu services certbot) certificate-configuration-domains))
(define certificate-configuration-start-self-signed?
  (@@ (gnu services certbot) certificate-configuration-start-self-signed?))

(define host
  (load (string-append (dirname (dirname (dirname (current-filename))))
                       "/guix-fsdg-registry/host.scm")))

(define (service-value-of type)
  (service-value (find (lambda (service)
                         (eq? (service-kind service) type))
                       (operating-system-user-services host))))

(define (text tree)
  (match tree
    ((? string?) tree)
    ((items ...) (string-concatenate (map text items)))
    (#f "")
    (other (object->string other))))

(define nginx
  (service-value-of nginx-service-type))

(define certbot
  (service-value-of certbot-service-type))

(define (approximate gexp)
  (gexp->approximate-sexp gexp))

(define (placeholder-command certificate)
  ;; The openssl command line certbot-service-type's activation runs for
  ;; CERTIFICATE when it has no certificate yet.
  (match (approximate (((@@ (gnu services certbot) generate-certificate-gexp)
                        "/etc/letsencrypt/live" #f)
                       certificate))
    (('when _ _ ... ('invoke _ arguments ...))
     arguments)))

(define (deploy-steps certificate)
  ;; The file operations of the deploy hook certbot-service-type wraps
  ;; around ours: (symlink TARGET LINK) and (rename-file FROM TO).
  (let ((name (first (certificate-configuration-domains certificate))))
    (match (approximate (program-file-gexp
                         ((@@ (gnu services certbot) certbot-deploy-hook)
                          name #f)))
      (('begin body ...)
       (filter-map (match-lambda
                     (((and op (or 'symlink 'rename-file)) from to)
                      (list (symbol->string op) from to))
                     (('with-shepherd-action ('quote service)
                                             (('quote action)) _ ...)
                      (list "shepherd" (symbol->string service)
                            (symbol->string action)))
                     (_ #f))
                   body)))))

(scm->json
 `(("http" . ,(text (nginx-configuration-extra-content nginx)))
   ("server" . ,(string-concatenate
                 (map (compose text emit-nginx-server-config)
                      (nginx-configuration-server-blocks nginx))))
   ("certificates" .
    ,(list->vector
      (map (lambda (certificate)
             `(("domains" . ,(list->vector
                              (certificate-configuration-domains
                               certificate)))
               ("self-signed" .
                ,(certificate-configuration-start-self-signed? certificate))
               ("placeholder" . ,(list->vector
                                  (placeholder-command certificate)))
               ("deploy" . ,(list->vector
                             (map list->vector
                                  (deploy-steps certificate))))))
           (certbot-configuration-certificates certbot))))))
(newline)
