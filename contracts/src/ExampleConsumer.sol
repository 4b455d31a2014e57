// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IProvaConsumer} from "./IProvaConsumer.sol";
import {InferenceRequests} from "./InferenceRequests.sol";

/// @title ExampleConsumer
/// @notice A minimal contract that asks Prova for inferences and keeps the results (tests, devnet demo).
contract ExampleConsumer is IProvaConsumer {
    InferenceRequests public immutable prova;
    address public immutable owner;
    bytes32 public lastRequestId;
    mapping(bytes32 requestId => bytes32 outputHash) public resultOf;
    mapping(bytes32 requestId => bytes) private _outputs;
    mapping(bytes32 requestId => bool) public answered;

    event Asked(bytes32 indexed requestId, bytes32 indexed model, bytes32 inputHash);
    event ResultReceived(bytes32 indexed requestId, bytes32 outputHash, uint256 outputLength);

    error OnlyProva();
    error OnlyOwner();

    constructor(InferenceRequests prova_) {
        prova = prova_;
        owner = msg.sender;
    }

    /// @notice Forwards `msg.value` as the fee of a new request; returns its id.
    function ask(bytes32 model, bytes32 inputHash, bytes calldata input, string calldata inputURI, string calldata mode)
        external
        payable
        returns (bytes32 requestId)
    {
        requestId = prova.request{value: msg.value}(model, inputHash, input, inputURI, mode);
        lastRequestId = requestId;
        emit Asked(requestId, model, inputHash);
    }

    function onInferenceResult(bytes32 requestId, bytes32 outputHash, bytes calldata output) external {
        if (msg.sender != address(prova)) revert OnlyProva();
        resultOf[requestId] = outputHash;
        _outputs[requestId] = output;
        answered[requestId] = true;
        emit ResultReceived(requestId, outputHash, output.length);
    }

    function outputOf(bytes32 requestId) external view returns (bytes memory) {
        return _outputs[requestId];
    }

    /// @notice Takes back a timed-out request's fee (refunded to this contract) and passes it to the owner.
    function cancel(bytes32 requestId) external {
        if (msg.sender != owner) revert OnlyOwner();
        prova.cancel(requestId);
        (bool ok,) = owner.call{value: address(this).balance}("");
        require(ok);
    }

    receive() external payable {}
}
