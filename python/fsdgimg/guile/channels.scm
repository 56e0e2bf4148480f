;;; fsdgimg --- official container images of FSDG distributions
;;; Copyright © 2026 The fsdgimg authors
;;;
;;; This file is part of fsdgimg.  It is free software under the GNU GPL,
;;; version 3 or any later version.

;;; Commentary:
;;;
;;; Run as `guix repl -- channels.scm FILE': FILE is a channels file (what
;;; `guix describe --format=channels' writes, what `guix time-machine -C'
;;; reads), evaluated as Guix evaluates it.  Prints one JSON object:
;;;
;;;   {"channels": [{"name", "url", "commit", "branch",
;;;                  "introduction": {"commit", "signer"}}, ...]}
;;;
;;; with false for what a channel does not say (no commit: not pinned).
;;; `fsdgimg pin' reads it, so that Python never parses Scheme.
;;;
;;; Code:

(use-modules (guix channels)
             (guix openpgp)
             (json)
             (ice-9 match)
             (srfi srfi-1))

(define (introduction->json intro)
  (if intro
      `(("commit" . ,(channel-introduction-first-signed-commit intro))
        ("signer" . ,(openpgp-format-fingerprint
                      (channel-introduction-first-commit-signer intro))))
      #f))

(define (channel->json ch)
  `(("name" . ,(symbol->string (channel-name ch)))
    ("url" . ,(or (channel-url ch) #f))
    ("commit" . ,(or (channel-commit ch) #f))
    ("branch" . ,(or (channel-branch ch) #f))
    ("introduction" . ,(introduction->json (channel-introduction ch)))))

(match (command-line)
  ((_ file)
   (let ((channels (load (canonicalize-path file))))
     (unless (and (list? channels) (every channel? channels))
       (format (current-error-port) "~a: does not evaluate to a list of channels~%" file)
       (exit 1))
     (scm->json `(("channels" . ,(list->vector (map channel->json channels)))))
     (newline)))
  (_
   (format (current-error-port) "usage: channels.scm FILE~%")
   (exit 2)))
