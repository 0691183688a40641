"""Who may do what: roles, share links and guests (``service``), who is cut when rights
change (``rights``), the identities seen (``users``), and personal copies (``copies``)."""
