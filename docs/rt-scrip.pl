# Gateway webhook: a Request Tracker 5 scrip action that tells the ticket gateway about every
# transaction on a ticket (create, correspond, comment, status, queue, custom field, link, ...).
#
# Install it once per RT (Admin > Global > Scrips > Create):
#   Description                       Gateway webhook
#   Condition                         On Transaction
#   Action                            User Defined
#   Template                          Blank
#   Stage                             Normal (TransactionCreate), applied globally
#   Custom action preparation code    return 1;
#   Custom action commit code         this whole file, with the two values below filled in
# The user saving it needs the ExecuteCode right (root has it). `.ci/rt` installs this very file
# as that scrip when RT_WEBHOOK_URL is set (it fills in RT_WEBHOOK_URL and RT_WEBHOOK_SECRET).
#
# It POSTs, per transaction, the JSON body
#   {"queue":"NGI_CZ","ticket":12,"transaction":345,"transaction_type":"Correspond","type":"rt.transaction"}
# signed as Standard Webhooks do: `webhook-id: rt-txn-<transaction id>`, `webhook-timestamp: <unix
# seconds>`, `webhook-signature: v1,<base64 HMAC-SHA256 over "<id>.<timestamp>.<body>">`, keyed with
# the base64 decode of the secret without its `whsec_` prefix. The gateway reads the transaction
# itself through REST 2 (GET /transaction/<id>); the body only says where to look.
#
# RT runs the code in the request that made the transaction: it waits for the gateway at most about
# 2 s per step (connect, send, answer), never dies (a failure is logged at warning level) and always
# returns 1, so RT's own transaction is never affected. Only core Perl modules are used.

my $url    = '@RT_WEBHOOK_URL@';       # e.g. 'https://gateway.example.org/webhooks/rt'
my $secret = '@RT_WEBHOOK_SECRET@';    # e.g. 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

eval {
    require Digest::SHA;
    require HTTP::Tiny;
    require JSON::PP;
    require MIME::Base64;

    my $txn    = $self->TransactionObj;
    my $ticket = $self->TicketObj;
    my $body   = JSON::PP->new->utf8->canonical->encode({
        type             => 'rt.transaction',
        ticket           => 0 + $ticket->Id,
        transaction      => 0 + $txn->Id,
        transaction_type => '' . $txn->Type,
        queue            => '' . $ticket->QueueObj->Name,
    });

    (my $key = $secret) =~ s/^whsec_//;
    $key = MIME::Base64::decode_base64($key);
    my $id        = 'rt-txn-' . $txn->Id;
    my $timestamp = time;
    my $signature = MIME::Base64::encode_base64(
        Digest::SHA::hmac_sha256("$id.$timestamp.$body", $key), '');

    my $response = HTTP::Tiny->new(
        timeout    => 2,
        verify_SSL => 1,
        agent      => 'rt-gateway-webhook/1',
    )->post($url, {
        headers => {
            'content-type'      => 'application/json',
            'webhook-id'        => $id,
            'webhook-timestamp' => $timestamp,
            'webhook-signature' => "v1,$signature",
        },
        content => $body,
    });
    unless ($response->{success}) {
        my $why = $response->{status} == 599    # HTTP::Tiny's "could not connect/send/read"
            ? $response->{content} : "$response->{status} $response->{reason}";
        $RT::Logger->warning("Gateway webhook: POST $url for transaction " . $txn->Id . ": $why");
    }
    1;
} or do {
    my $error = $@ || 'unknown error';
    eval { $RT::Logger->warning("Gateway webhook: $error") };
};

return 1;
