"""The sandbox phone: plays a published Flow as the WhatsApp client would, against the flow's
data-exchange endpoint: from a template message in a person's inbox (with the message's flow token and
flow action), or for one of our flows and a WhatsApp id an admin types.

It stands apart from our code the way a real phone does: the Flow JSON and the endpoint_uri are the
sandbox Meta's copies of what we uploaded through the Graph API, the key and secret are what Meta holds
for the account, and the JSON is read by the phone's own reader. A misreading in our preview or our
endpoint is then not repeated here, and the phone's tests can catch it.

- `reader`: the phone's reading of Flow JSON into screens, with real data and answers;
- `wire`: calls to the endpoint, sealed as Meta seals them (sandbox/meta_crypto.py);
- `player`: the play state and what each footer press does, the completion webhook;
- `views`: the page that plays one of our flows, and the play state kept in the session;
- `inbox`: the inbox per WhatsApp id and each template message's page, whose Flow button plays it.
"""
