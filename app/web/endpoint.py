"""The GraphQL endpoint as the settings configure it, with the persisted-query store on the
database (which the GraphQL layer does not import)."""

from __future__ import annotations

from strawberry.schema import BaseSchema

from app.db.persisted_queries import StoredDocuments
from app.graphql.context import Safeguards
from app.graphql.persisted import PersistedQueries
from app.graphql.view import GraphQLEndpoint
from app.services.runtime import Runtime
from app.settings import Settings
from app.web.graphiql import graphiql_html


def graphql_endpoint(
    settings: Settings, schema: BaseSchema, runtime: Runtime, safeguards: Safeguards
) -> GraphQLEndpoint:
    return GraphQLEndpoint(
        schema,
        runtime,
        graphiql_html=graphiql_html() if settings.GRAPHIQL else None,
        allowed_origins=settings.CORS_ORIGINS,
        persisted=PersistedQueries(StoredDocuments(settings.MAX_PERSISTED_QUERIES)),
        max_batch=settings.MAX_BATCH,
        keep_alive_interval=settings.WS_KEEP_ALIVE_INTERVAL.total_seconds(),
        safeguards=safeguards,
    )
