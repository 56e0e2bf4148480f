;;; Print the nginx 'server' block that static-registry-service-type adds to
;;; nginx.conf, as Guix's nginx service writes it, for a static tree at ROOT
;;; served on LISTEN; the locations file that Guix computes at build time
;;; (by running fsdgimg) is replaced by LOCATIONS-FILE, so that the block
;;; runs with a host's nginx:
;;;
;;;   guix repl -L channel -- tests/guix/static-nginx-server.scm \
;;;     ROOT LISTEN LOCATIONS-FILE
;;;
;;; Then print, on a second line, the fsdgimg arguments that the computed
;;; locations file runs, separated by spaces.
(use-modules (fsdgimg services static-registry)
             (guix gexp)
             (ice-9 match))

(define emit-nginx-server-config
  ;; Not exported: what nginx-service-type writes for each server.
  (@@ (gnu services web) emit-nginx-server-config))

(define (render tree locations-file)
  (match tree
    ((? string?) tree)
    ((? computed-file?) locations-file)
    ((items ...) (string-concatenate
                  (map (lambda (item)
                         (render item locations-file))
                       items)))
    (#f "")))

(match (command-line)
  ((_ root listen locations-file)
   (let ((config (static-registry-configuration
                   (root root)
                   (listen (list listen)))))
     (display (render (emit-nginx-server-config
                       (static-registry-nginx-server config))
                      locations-file))
     (display (string-join (static-registry-web-config-arguments config)))
     (newline))))
