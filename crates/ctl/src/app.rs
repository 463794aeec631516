//! Runs one parsed command against the orchestrator and returns what to print.

use crate::{
    cli::{ActionArgs, ActorArg, Cli, Command, SagaCommand},
    client::{Action, ActionRequest, Client},
    error::CtlError,
    render::{self, SagaListView, SagaView},
};

/// Runs the command; `Ok` holds the text for stdout.
pub async fn run(cli: Cli) -> Result<String, CtlError> {
    let Command::Saga(command) = cli.command;
    let mut client = Client::connect(&cli.addr, cli.timeout).await?;
    let actor = cli
        .actor
        .unwrap_or_else(|| ActorArg::default_for(std::env::var("USER").ok().as_deref()));
    let saga = match command {
        SagaCommand::List(args) => {
            let page = client.list(args.to_request()).await?;
            return Ok(render::saga_list(
                &SagaListView::from_proto(&page),
                cli.output,
            )?);
        }
        SagaCommand::Show { saga_id } => client.get(saga_id).await?,
        SagaCommand::Retry(a) => client.act(Action::Retry, action(a, &actor)).await?,
        SagaCommand::Cancel(a) => client.act(Action::Cancel, action(a, &actor)).await?,
        SagaCommand::Pause(a) => client.act(Action::Pause, action(a, &actor)).await?,
        SagaCommand::Resume(a) => client.act(Action::Resume, action(a, &actor)).await?,
    };
    Ok(render::saga(&SagaView::from_proto(&saga), cli.output)?)
}

fn action(args: ActionArgs, actor: &ActorArg) -> ActionRequest {
    ActionRequest {
        saga_id: args.saga_id,
        actor: actor.to_proto(),
        reason: args.reason,
        idempotency_key: args
            .idempotency_key
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
    }
}
