//! Whether the platform's dependencies answer: DynamoDB and the media bucket, asked at once.
//! A dependency that does not answer is logged with its cause.

use crate::App;

/// What each dependency said.
#[derive(Debug, Clone, Copy)]
pub struct Health {
    pub dynamodb: bool,
    pub s3: bool,
}

impl Health {
    pub fn healthy(&self) -> bool {
        self.dynamodb && self.s3
    }
}

pub async fn check(app: &App) -> Health {
    let s3_check = app.s3().head_bucket().bucket(&app.config.media_bucket).send();
    let (dynamodb, s3) = tokio::join!(app.store.ping(), s3_check);
    if let Err(err) = &dynamodb {
        tracing::warn!(error = %err, "health: DynamoDB did not answer");
    }
    if let Err(err) = &s3 {
        tracing::warn!(error = %aws_sdk_s3::error::DisplayErrorContext(err), "health: S3 did not answer");
    }
    Health { dynamodb: dynamodb.is_ok(), s3: s3.is_ok() }
}
