//! What each replica's callers ask of a shared budget, exchanged so that
//! every replica can compute the same fair allotment: each replica keeps
//! its latest text under its own key (expiring unless renewed), and a set
//! names the replicas that published; one gone quiet drops out.

use std::time::Duration;

use redis::AsyncCommands;

use super::Cluster;

impl Cluster {
    /// Publishes this replica's `text` for `budget`, kept for `keep`, and
    /// reads every replica's (this one's first); `None` when Redis fails.
    pub async fn exchange_demand(
        &self,
        budget: &str,
        text: &str,
        keep: Duration,
    ) -> Option<Vec<String>> {
        let members = self.key(&["demand", budget]);
        let mine = self.key(&["demand", budget, self.replica()]);
        let replica = self.replica().to_owned();
        let millis = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX).max(1);
        let own = text.to_owned();
        let (set, key, text) = (members.clone(), mine, own.clone());
        let replicas: Vec<String> = self
            .run(|mut redis| async move {
                redis::pipe()
                    .pset_ex(&key, text, millis)
                    .ignore()
                    .sadd(&set, &replica)
                    .ignore()
                    .pexpire(&set, i64::try_from(millis * 20).unwrap_or(i64::MAX))
                    .ignore()
                    .smembers(&set)
                    .query_async::<(Vec<String>,)>(&mut redis)
                    .await
                    .map(|(replicas,)| replicas)
            })
            .await?;
        let mut others: Vec<String> = replicas
            .into_iter()
            .filter(|replica| replica != self.replica())
            .collect();
        others.sort();
        if others.is_empty() {
            return Some(vec![own]);
        }
        let keys: Vec<String> = others
            .iter()
            .map(|other| self.key(&["demand", budget, other]))
            .collect();
        let texts: Vec<Option<String>> = self
            .run(|mut redis| async move { redis.mget(keys).await })
            .await?;
        let gone: Vec<&String> = others
            .iter()
            .zip(texts.iter())
            .filter_map(|(other, text)| text.is_none().then_some(other))
            .collect();
        if !gone.is_empty() {
            let gone: Vec<String> = gone.into_iter().cloned().collect();
            self.run(|mut redis| async move { redis.srem::<_, _, ()>(members, gone).await })
                .await;
        }
        Some(
            std::iter::once(own)
                .chain(texts.into_iter().flatten())
                .collect(),
        )
    }
}
