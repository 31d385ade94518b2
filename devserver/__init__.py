"""The local stack: API Gateway (HTTP API, payload 2.0) and its JWT authorizer emulated in-process
over the real handlers, with DynamoDB Local and moto's SES server. Local development and tests only;
nothing here is deployed."""
