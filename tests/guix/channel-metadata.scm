;;; Read the channel metadata of the checkout at DIRECTORY as 'guix pull'
;;; does, and print its module directory and number of news entries:
;;;
;;;   guix repl -- tests/guix/channel-metadata.scm DIRECTORY
(use-modules (guix channels)
             (ice-9 match))

(define read-metadata
  ;; Not exported: the reader 'guix pull' applies to a channel checkout.
  (@@ (guix channels) read-channel-metadata-from-source))

(define read-news
  (@@ (guix channels) read-channel-news))

(match (command-line)
  ((_ directory)
   (let* ((metadata (read-metadata directory))
          (news-file ((@@ (guix channels) channel-metadata-news-file) metadata)))
     (format #t "~a ~a~%"
             ((@@ (guix channels) channel-metadata-directory) metadata)
             (length ((@@ (guix channels) channel-news-entries)
                      (call-with-input-file (string-append directory "/"
                                                           news-file)
                        read-news)))))))
