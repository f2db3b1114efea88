use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{LambdaEvent, service_fn};
use stream_publisher::{EventBridgeSink, handle_batch};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::logging::init();
    let bus_name = std::env::var("EVENT_BUS_NAME").map_err(|_| "EVENT_BUS_NAME is required")?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(shared::app::https_client(shared::app::TrustRoots::AmazonOnly)?)
        .load()
        .await;
    let sink = Arc::new(EventBridgeSink { client: aws_sdk_eventbridge::Client::new(&sdk), bus_name });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| {
        let sink = Arc::clone(&sink);
        async move { Ok::<_, lambda_runtime::Error>(handle_batch(sink.as_ref(), event.payload).await) }
    }))
    .await
}
