"""`campaign-graph demo`: a demo organization whose events go through the ingest path.

An outdoor-gear shop sends five campaigns over the last four weeks: a newsletter, a webinar
invitation with a simple A/B test, a sale with a 2x2 subject x content test, a survey, and a
last-chance mail with an A/B test. Contacts have record owners; they share one address book, so
that contacts suppressed by one campaign (hard bounce, complaint, unsubscribe) are NOT_SENT in
later ones. Every event is a canonical event applied by `apply_events`, the same code the
webhooks and `POST /events` use, so the demo's statistics are the product's own. Every campaign
has at least one variant with a newsletter-like html (its tracked links, remote images, merge
fields: app/demo/messages.py), and each SENT event carries the recipient's merge fields, so the
click maps and previews show the demo's own clicks and people.

The data is drawn from a seeded random generator: the same number of recipients gives the same
data, shifted to end a few days before today.
"""
