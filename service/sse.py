"""Server-Sent Events, read side: the client distribution's parser (`fraudlog_client.sse`), under its old name."""

from fraudlog_client.sse import EventParser as EventParser
from fraudlog_client.sse import ServerSentEvent as ServerSentEvent
from fraudlog_client.sse import aparse_events as aparse_events
from fraudlog_client.sse import parse_events as parse_events
