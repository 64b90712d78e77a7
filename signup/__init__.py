"""Double opt-in signup: a Wagtail page with a subscribe form; a confirmation link mailed on
the account stream; confirming joins the page's audience and records the consent with its proof."""
