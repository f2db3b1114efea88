#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::function::run::<media::MediaFunction>().await
}
