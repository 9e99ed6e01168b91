"""One APIRouter per screen: routes parse the request, call api_client, render a template."""
