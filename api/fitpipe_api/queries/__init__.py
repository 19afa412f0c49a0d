"""The API's SQL, one module per resource; parameterized always."""
