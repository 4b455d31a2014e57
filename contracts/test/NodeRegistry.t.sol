// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./Base.sol";
import {NodeRegistry} from "../src/NodeRegistry.sol";

/// @dev Stands in for Settlement: counts open challenges per node and accepts slashed stake.
contract DisputesStub {
    mapping(address => uint256) public openChallengesAgainst;

    function set(address node, uint256 n) external {
        openChallengesAgainst[node] = n;
    }

    receive() external payable {}
}

contract NodeRegistryTest is Base {
    NodeRegistry internal reg;
    address internal SETTLEMENT;
    address internal constant N1 = address(0x1001);
    address internal constant N2 = address(0x1002);
    address internal constant N3 = address(0x1003);

    function setUp() public {
        reg = new NodeRegistry(MIN_STAKE, UNBONDING_DELAY);
        SETTLEMENT = address(new DisputesStub());
        reg.setSettlement(SETTLEMENT);
    }

    function _register(address n, uint256 stake) internal {
        vm.deal(n, stake);
        vm.prank(n);
        reg.register{value: stake}("http://127.0.0.1:8080", new bytes32[](0));
    }

    function test_RegisterBelowMinStakeReverts() public {
        vm.deal(N1, 1 ether);
        vm.prank(N1);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.StakeTooLow.selector, MIN_STAKE - 1, MIN_STAKE));
        reg.register{value: MIN_STAKE - 1}("x", new bytes32[](0));
    }

    function test_RegisterAtMinStakeIsActive() public {
        _register(N1, MIN_STAKE);
        assertTrue(reg.isActive(N1), "active");
        assertEq(reg.stakeOf(N1), MIN_STAKE, "stake");
        assertEq(reg.totalStake(), MIN_STAKE, "total");
        assertEq(reg.activeNodeCount(), 1, "count");
        assertTrue(keccak256(bytes(reg.endpointOf(N1))) == keccak256("http://127.0.0.1:8080"), "endpoint");
    }

    function test_RegisterTwiceReverts() public {
        _register(N1, MIN_STAKE);
        vm.deal(N1, MIN_STAKE);
        vm.prank(N1);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.AlreadyRegistered.selector, N1));
        reg.register{value: MIN_STAKE}("x", new bytes32[](0));
    }

    function test_EndpointAndModels() public {
        _register(N1, MIN_STAKE);
        bytes32[] memory m = new bytes32[](2);
        m[0] = MODEL;
        m[1] = keccak256("other");
        vm.startPrank(N1);
        reg.setModels(m);
        reg.setEndpoint("http://127.0.0.1:9");
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.EndpointTooLong.selector, 257));
        reg.setEndpoint(string(new bytes(257)));
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.TooManyModels.selector, 65));
        reg.setModels(new bytes32[](65));
        vm.stopPrank();
        assertTrue(reg.servesModel(N1, MODEL), "serves model");
        assertTrue(!reg.servesModel(N1, keccak256("nope")), "does not serve");
        assertEq(reg.modelsOf(N1).length, 2, "models");
        vm.prank(N2);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.NotRegistered.selector, N2));
        reg.setEndpoint("x");
    }

    function test_UnbondBelowMinDeactivatesAndAddStakeReactivates() public {
        _register(N1, 2 ether);
        _register(N2, 1 ether);
        vm.prank(N1);
        reg.requestUnbond(0.5 ether);
        assertTrue(reg.isActive(N1), "still active at 1.5");
        assertEq(reg.totalStake(), 2.5 ether, "total after partial unbond");
        vm.prank(N1);
        reg.requestUnbond(1 ether);
        assertTrue(!reg.isActive(N1), "inactive at 0.5");
        assertEq(reg.totalStake(), 1 ether, "total excludes inactive");
        assertEq(reg.activeNodeCount(), 1, "one active");
        assertEq(reg.activeNodes()[0], N2, "N2 remains");

        vm.deal(N1, 1 ether);
        vm.prank(N1);
        reg.addStake{value: 0.5 ether}();
        assertTrue(reg.isActive(N1), "reactivated at 1.0");
        assertEq(reg.totalStake(), 2 ether, "total after reactivation");
    }

    function test_UnbondMoreThanStakeReverts() public {
        _register(N1, MIN_STAKE);
        vm.prank(N1);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InsufficientStake.selector, MIN_STAKE + 1, MIN_STAKE));
        reg.requestUnbond(MIN_STAKE + 1);
    }

    function test_WithdrawOnlyAfterUnbondingDelay() public {
        _register(N1, MIN_STAKE);
        vm.prank(N1);
        vm.expectRevert(NodeRegistry.NothingToWithdraw.selector);
        reg.withdraw();

        vm.prank(N1);
        reg.requestUnbond(MIN_STAKE);
        uint64 unlockAt = uint64(block.timestamp) + UNBONDING_DELAY;
        vm.warp(unlockAt - 1);
        vm.prank(N1);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.StillLocked.selector, unlockAt));
        reg.withdraw();

        vm.warp(unlockAt);
        DisputesStub(payable(SETTLEMENT)).set(N1, 1);
        vm.prank(N1);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.UnderChallenge.selector, N1));
        reg.withdraw();
        DisputesStub(payable(SETTLEMENT)).set(N1, 0);
        uint256 before = N1.balance;
        vm.prank(N1);
        reg.withdraw();
        assertEq(N1.balance - before, MIN_STAKE, "withdrawn");
        assertEq(reg.slashableOf(N1), 0, "nothing left");
    }

    function test_OnlySettlementSlashes() public {
        _register(N1, 2 ether);
        vm.expectRevert(NodeRegistry.OnlySettlement.selector);
        reg.slash(N1, 1 ether); // the deployer cannot
        vm.prank(N2);
        vm.expectRevert(NodeRegistry.OnlySettlement.selector);
        reg.slash(N1, 1 ether);
        vm.prank(N1);
        vm.expectRevert(NodeRegistry.OnlySettlement.selector);
        reg.slash(N1, 1 ether);

        vm.prank(SETTLEMENT);
        uint256 taken = reg.slash(N1, 1.5 ether);
        assertEq(taken, 1.5 ether, "taken");
        assertEq(SETTLEMENT.balance, 1.5 ether, "sent to settlement");
        assertTrue(!reg.isActive(N1), "below min stake: inactive");
        assertEq(reg.totalStake(), 0, "total");
    }

    function test_SlashReachesUnbondingStake() public {
        _register(N1, 2 ether);
        vm.prank(N1);
        reg.requestUnbond(1.5 ether);
        vm.prank(SETTLEMENT);
        uint256 taken = reg.slash(N1, 1.8 ether);
        assertEq(taken, 1.8 ether, "taken from stake then unbonding");
        assertEq(reg.stakeOf(N1), 0, "stake");
        assertEq(reg.slashableOf(N1), 0.2 ether, "left unbonding");
        vm.prank(SETTLEMENT);
        assertEq(reg.slash(N1, 5 ether), 0.2 ether, "capped at what is left");
    }

    function test_SettlementIsSetOnceByDeployer() public {
        NodeRegistry fresh = new NodeRegistry(MIN_STAKE, UNBONDING_DELAY);
        vm.prank(N1);
        vm.expectRevert(NodeRegistry.OnlyDeployer.selector);
        fresh.setSettlement(N1);
        vm.expectRevert(NodeRegistry.ZeroAddress.selector);
        fresh.setSettlement(address(0));
        // Before it is set, nobody can slash.
        vm.prank(address(0));
        vm.expectRevert(NodeRegistry.OnlySettlement.selector);
        fresh.slash(N1, 1);
        fresh.setSettlement(SETTLEMENT);
        vm.expectRevert(NodeRegistry.SettlementAlreadySet.selector);
        fresh.setSettlement(N2);
    }

    function test_ActiveListSwapRemove() public {
        _register(N1, 1 ether);
        _register(N2, 2 ether);
        _register(N3, 3 ether);
        vm.prank(N1);
        reg.requestUnbond(1 ether);
        (address[] memory list, uint256[] memory stakes) = reg.activeNodesWithStake();
        assertEq(list.length, 2, "two active");
        assertEq(list[0], N3, "last moved into the hole");
        assertEq(stakes[0], 3 ether, "its stake");
        assertEq(list[1], N2, "N2");
        assertEq(stakes[1], 2 ether, "N2 stake");
    }

    /// Invariant under random stake/unbond/slash sequences: totalStake is the sum of active nodes' stakes,
    /// and a node is active exactly when its stake ≥ minStake.
    function testFuzz_TotalStakeMatchesActiveNodes(uint256 seed) public {
        address[3] memory ns = [N1, N2, N3];
        for (uint256 i = 0; i < 3; i++) {
            _register(ns[i], MIN_STAKE + (uint256(keccak256(abi.encode(seed, i))) % 3 ether));
        }
        for (uint256 step = 0; step < 12; step++) {
            uint256 r = uint256(keccak256(abi.encode(seed, "step", step)));
            address n = ns[r % 3];
            uint256 amount = (r >> 8) % 2 ether + 1;
            uint256 op = (r >> 128) % 3;
            if (op == 0) {
                vm.deal(n, amount);
                vm.prank(n);
                reg.addStake{value: amount}();
            } else if (op == 1) {
                uint256 s = reg.stakeOf(n);
                if (s == 0) continue;
                vm.prank(n);
                reg.requestUnbond(amount > s ? s : amount);
            } else {
                vm.prank(SETTLEMENT);
                reg.slash(n, amount);
            }
            uint256 sum;
            for (uint256 i = 0; i < 3; i++) {
                bool shouldBe = reg.stakeOf(ns[i]) >= MIN_STAKE;
                assertEq(reg.isActive(ns[i]), shouldBe, "active iff stake >= min");
                if (shouldBe) sum += reg.stakeOf(ns[i]);
            }
            assertEq(reg.totalStake(), sum, "total stake");
            assertEq(reg.activeNodes().length, reg.activeNodeCount(), "count");
        }
    }
}
